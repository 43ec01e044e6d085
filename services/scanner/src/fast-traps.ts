import { ROOT_CONTEXT } from '@opentelemetry/api';
import { type Subjects, type TrapEvent, type Verdict, validators } from '@vmi/contracts';
import { extractTraceContext, type Logger, type NatsConnection } from '@vmi/service-runtime';
import { type HandoffTrace, TrapHandoffClient } from './trap-handoff-client.js';
import type { TrapIntake } from './trap-intake.js';

export interface FastTrapsOptions {
  readonly nc: NatsConnection;
  readonly subjects: Subjects;
  readonly host: string;
  /** The agent's handoff socket; without one the fast copies come by a core subscription. */
  readonly handoffSocket: string | undefined;
  /** Core subscription when there is no handoff socket (false: the durable consumer alone). */
  readonly subscribe: boolean;
  /** The queue group the host's scanner instances share (the durable consumer's name). */
  readonly queue: string;
  readonly intake: TrapIntake;
  readonly logger: Logger;
}

export interface FastTraps {
  /** Trap events taken from the agent's handoff socket. */
  handedOver(): number;
  /** Hands a held trap's verdict straight back to the agent (handoff only); false when it could not. */
  handBack(verdict: Verdict): boolean;
  /** Takes no more fast copies and waits for the checks of those taken. */
  stop(): Promise<void>;
}

/** A handed-over event's trace context as the propagator reads headers. */
function traceCarrier(trace: HandoffTrace) {
  const keys = (['traceparent', 'tracestate'] as const).filter((k) => trace[k] !== undefined);
  return {
    get: (k: string) => (k === 'traceparent' || k === 'tracestate' ? (trace[k] ?? '') : ''),
    set: () => undefined,
    keys: () => [...keys],
  };
}

/**
 * Where the fast copy of each trap comes from (see TrapIntake): straight from the agent over its
 * handoff socket, else a core subscription to the host's trap subject, else nowhere (null).
 */
export function startFastTraps(o: FastTrapsOptions): FastTraps | null {
  if (o.handoffSocket !== undefined) {
    const client = new TrapHandoffClient(
      o.handoffSocket,
      (event, trace) => o.intake.fast(event, extractTraceContext(traceCarrier(trace), ROOT_CONTEXT)),
      o.logger,
    );
    client.start();
    return {
      handedOver: () => client.counters.received,
      handBack: (verdict) => client.handBack(verdict),
      stop: async () => {
        client.stop();
        await o.intake.drain();
      },
    };
  }
  if (!o.subscribe) return null;
  const sub = o.nc.subscribe(o.subjects.hostTraps(o.host), {
    queue: o.queue,
    callback: (err, msg) => {
      if (err !== null) return;
      let event: TrapEvent;
      try {
        event = validators.trapEvent.decode(msg.data);
      } catch {
        // Its durable copy is refused, counted and dead-lettered with the reason: not twice.
        return;
      }
      o.intake.fast(event, extractTraceContext(msg.headers, ROOT_CONTEXT));
    },
  });
  return {
    handedOver: () => 0,
    handBack: () => false,
    stop: async () => {
      sub.unsubscribe();
      await o.intake.drain();
    },
  };
}
