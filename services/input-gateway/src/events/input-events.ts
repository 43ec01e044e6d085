import {
  type CloseReason,
  type InputEvent,
  type InputEventKind,
  newId,
  nowIso,
  SCHEMA_VERSION,
  type Subjects,
  type VmiError,
  validators,
} from '@vmi/contracts';
import { type JetStreamClient, type Logger, publishMessage } from '@vmi/service-runtime';

/** The facts of one connection every event repeats. */
export interface ConnectionFacts {
  readonly connectionId: string;
  readonly guest: string;
  readonly application: string;
  readonly serverOrigin: string;
  readonly expiresAt: Date;
  readonly ackedSeq: number;
  readonly pending: number;
}

export interface EventCounts {
  readonly records?: number;
  readonly keys?: number;
  readonly firstSeq?: number;
  readonly lastSeq?: number;
  readonly attempts?: number;
  readonly timing?: { readonly p50_ms: number; readonly max_ms: number } | null;
  readonly error?: VmiError | null;
  readonly reason?: CloseReason | null;
}

export interface InputEventsOptions {
  readonly js: JetStreamClient;
  readonly subjects: Subjects;
  readonly host: string;
  readonly logger: Logger;
}

/**
 * Publishes `vmi.input.<guest>.<event>` to JetStream (Nats-Msg-Id = event id). Built only from ids,
 * counts, sequence numbers, timings and error codes: the schema has no field that could carry a key.
 * Publishing never holds up input; a failed publish is logged by code and counted.
 */
export class InputEvents {
  readonly #options: InputEventsOptions;
  #chain: Promise<unknown> = Promise.resolve();
  published = 0;
  publishFailures = 0;

  constructor(options: InputEventsOptions) {
    this.#options = options;
  }

  emit(event: InputEventKind, facts: ConnectionFacts, counts: EventCounts = {}): InputEvent {
    const message: InputEvent = {
      id: newId(),
      time: nowIso(),
      version: SCHEMA_VERSION,
      type: 'input',
      host: this.#options.host,
      guest: facts.guest,
      event,
      connection_id: facts.connectionId,
      application: facts.application,
      server_origin: facts.serverOrigin,
      records: counts.records ?? 0,
      keys: counts.keys ?? 0,
      first_seq: counts.firstSeq ?? 0,
      last_seq: counts.lastSeq ?? 0,
      acked_seq: facts.ackedSeq,
      pending: facts.pending,
      attempts: counts.attempts ?? 0,
      timing: counts.timing ?? null,
      error: counts.error ? { code: counts.error.code, status: counts.error.status } : null,
      reason: counts.reason ?? null,
      expires_at: facts.expiresAt.toISOString(),
    };
    const subject = this.#options.subjects.input(facts.guest, event);
    // Chained: events of a connection reach the stream in the order they happened.
    this.#chain = this.#chain.then(() => this.#publish(subject, message));
    return message;
  }

  async #publish(subject: string, message: InputEvent): Promise<void> {
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        await publishMessage(this.#options.js, subject, message, { validator: validators.inputEvent, timeoutMs: 5_000 });
        this.published++;
        return;
      } catch (err) {
        if (attempt === 3) {
          this.publishFailures++;
          const code = (err as { code?: unknown })?.code;
          this.#options.logger.warn(
            { event: message.event, event_id: message.id, code: typeof code === 'string' ? code : 'unknown' },
            'input event not published',
          );
        }
      }
    }
  }

  /** Resolves when every event emitted so far was published or given up on. */
  flushed(): Promise<void> {
    return this.#chain.then(() => undefined);
  }
}
