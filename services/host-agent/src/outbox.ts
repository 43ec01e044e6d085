import type { JetStreamClient } from '@nats-io/jetstream';
import { CoreErrors, type MessageValidator, VmiError } from '@vmi/contracts';
import { type Logger, publishMessage } from '@vmi/service-runtime';
import type { TSchema } from 'typebox';

interface Pending {
  subject: string;
  msg: { readonly id: string; readonly type?: string };
  validator: MessageValidator<TSchema> | undefined;
  headers: Record<string, string> | undefined;
  settle: { resolve: () => void; reject: (err: unknown) => void } | undefined;
}

export interface OutboxOptions {
  js: JetStreamClient;
  logger: Logger;
  /** Publishes in flight at once; JetStream acks them independently. */
  concurrency?: number;
  /** Messages kept while NATS is away; beyond it new messages are refused (and counted). */
  capacity?: number;
  publishTimeoutMs?: number;
  retryDelayMs?: number;
}

/**
 * Publishes to JetStream until each message is acknowledged. A message that fails (NATS away,
 * timeout) is retried with the same `Nats-Msg-Id`, so the stream stores it exactly once however
 * often it was sent; nothing accepted here is dropped while the process lives.
 */
export class Outbox {
  private readonly queue: Pending[] = [];
  private inFlight = 0;
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly idleWaiters: Array<() => void> = [];
  readonly counters = { published: 0, retries: 0, refused: 0 };
  private readonly concurrency: number;
  private readonly capacity: number;
  private readonly timeoutMs: number;
  private readonly retryDelayMs: number;

  constructor(private readonly options: OutboxOptions) {
    this.concurrency = options.concurrency ?? 64;
    this.capacity = options.capacity ?? 200_000;
    this.timeoutMs = options.publishTimeoutMs ?? 5000;
    this.retryDelayMs = options.retryDelayMs ?? 250;
  }

  get depth(): number {
    return this.queue.length + this.inFlight;
  }

  /** Queues a message; the promise settles when JetStream has stored it. */
  send(
    subject: string,
    msg: { readonly id: string; readonly type?: string },
    options: { validator?: MessageValidator<TSchema>; headers?: Record<string, string> } = {},
  ): Promise<void> {
    if (this.closed) return Promise.reject(new VmiError(CoreErrors.SHUTTING_DOWN, 'outbox closed'));
    if (this.depth >= this.capacity) {
      this.counters.refused += 1;
      return Promise.reject(new VmiError(CoreErrors.NATS_UNAVAILABLE, `outbox full (${this.capacity} messages)`));
    }
    // Validate before queueing so a bad message fails its producer, not the pump.
    options.validator?.parse(msg);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ subject, msg, validator: undefined, headers: options.headers, settle: { resolve, reject } });
      this.pump();
    });
  }

  /** Resolves when everything queued so far has been stored. */
  async idle(): Promise<void> {
    if (this.depth === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops accepting; waits up to `timeoutMs` for the queue to drain. */
  async close(timeoutMs = 5000): Promise<void> {
    this.closed = true;
    await Promise.race([this.idle(), new Promise((r) => setTimeout(r, timeoutMs).unref())]);
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    for (const p of this.queue.splice(0)) p.settle?.reject(new VmiError(CoreErrors.SHUTTING_DOWN, 'outbox closed before publish'));
  }

  private pump(): void {
    if (this.retryTimer !== undefined) return;
    while (this.inFlight < this.concurrency && this.queue.length > 0) {
      const p = this.queue.shift() as Pending;
      this.inFlight += 1;
      publishMessage(this.options.js, p.subject, p.msg, {
        ...(p.headers === undefined ? {} : { headers: p.headers }),
        timeoutMs: this.timeoutMs,
      }).then(
        () => {
          this.inFlight -= 1;
          this.counters.published += 1;
          p.settle?.resolve();
          this.afterSettle();
        },
        (err: unknown) => {
          this.inFlight -= 1;
          this.counters.retries += 1;
          if (this.counters.retries % 100 === 1) {
            this.options.logger.warn({ err: (err as Error).message, subject: p.subject, depth: this.depth }, 'publish failed; retrying');
          }
          this.queue.unshift(p);
          this.scheduleRetry();
        },
      );
    }
  }

  private scheduleRetry(): void {
    if (this.retryTimer !== undefined) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.pump();
    }, this.retryDelayMs);
  }

  private afterSettle(): void {
    this.pump();
    if (this.depth === 0) for (const w of this.idleWaiters.splice(0)) w();
  }
}
