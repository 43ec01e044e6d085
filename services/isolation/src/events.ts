import { type IsolationEvent, type Subjects, validators } from '@vmi/contracts';
import { type JetStreamClient, type Logger, publishMessage } from '@vmi/service-runtime';

export interface EventPublisher {
  publish(guest: string, event: IsolationEvent): void;
  /** Resolves when every publish so far has been acknowledged or has failed (and been logged). */
  flush(): Promise<void>;
  readonly failed: () => number;
}

/**
 * Publishes lifecycle events to `vmi.isolation.<guest>.<event>` on JetStream (the ISOLATION stream),
 * one at a time in order. A failed publish is logged and counted, never thrown into supervision:
 * a NATS outage must not stop a component from being restarted.
 */
export function createEventPublisher(js: JetStreamClient, subjects: Subjects, logger: Logger): EventPublisher {
  let chain: Promise<void> = Promise.resolve();
  let failed = 0;
  return {
    publish(guest, event) {
      logger.info({ guest, event: event.event, component: event.component, reason: event.reason }, 'kernel-VM event');
      chain = chain.then(async () => {
        try {
          await publishMessage(js, subjects.isolation(guest, event.event), event, {
            validator: validators.isolationEvent,
            timeoutMs: 5000,
          });
        } catch (err) {
          failed++;
          logger.error({ err, guest, event: event.event }, 'could not publish a kernel-VM event');
        }
      });
    },
    flush: () => chain,
    failed: () => failed,
  };
}
