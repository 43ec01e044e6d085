import { InputErrors, isVmiError, type SealedRecord, type SecureInputBatch, VmiError, validators } from '@vmi/contracts';
import { Client } from 'undici';
import { type BackoffOptions, backoffDelay } from './backoff.js';

/** One sealed record waiting for the server's ack, with what the events report about it. */
export interface ForwardItem {
  readonly record: SealedRecord;
  readonly keys: number;
  /** `performance.now()` when its keys reached the gateway. */
  readonly receivedAt: number;
}

export interface ForwardListener {
  /** Records the server acknowledged for the first time, in order. */
  delivered(items: readonly ForwardItem[], ackedSeq: number, attempts: number): void;
  /** A delivery attempt failed; the records stay queued and are retried after `retryInMs`. */
  failed(error: VmiError, attempts: number, retryInMs: number): void;
}

export interface ForwarderOptions {
  readonly endpoint: URL;
  /** PEM of the CA the server's certificate must chain to; the system store when absent. */
  readonly caPem?: string;
  /** Everything of a batch but its records. */
  readonly header: Omit<SecureInputBatch, 'records'>;
  readonly backoff: BackoffOptions;
  readonly requestTimeoutMs: number;
  readonly maxBatch: number;
  readonly listener: ForwardListener;
}

/**
 * Delivers one connection's records to its server over one kept-alive TLS connection, with
 * certificate verification. At most one request is in flight, so records arrive in order; records
 * queued meanwhile ride in the next request together. A record leaves the queue only when the
 * server acknowledges its sequence number, so a lost reply means a resend that the server drops as
 * a replay: nothing is lost and nothing is delivered twice.
 */
export class Forwarder {
  readonly #options: ForwarderOptions;
  readonly #client: Client;
  readonly #path: string;
  readonly #queue: ForwardItem[] = [];
  #ackedSeq = 0;
  #attempts = 0;
  #inFlight = false;
  #retryTimer: NodeJS.Timeout | null = null;
  #closed = false;
  #idle: (() => void) | null = null;

  constructor(options: ForwarderOptions) {
    this.#options = options;
    this.#path = `${options.endpoint.pathname}${options.endpoint.search}`;
    this.#client = new Client(options.endpoint.origin, {
      connect: { ...(options.caPem === undefined ? {} : { ca: options.caPem }), rejectUnauthorized: true },
      keepAliveTimeout: 60_000,
      headersTimeout: options.requestTimeoutMs,
      bodyTimeout: options.requestTimeoutMs,
    });
  }

  get pending(): number {
    return this.#queue.length;
  }

  get ackedSeq(): number {
    return this.#ackedSeq;
  }

  /** Queues a record (records must be enqueued in sequence order) and sends it as soon as it can. */
  enqueue(item: ForwardItem): void {
    if (this.#closed) throw new VmiError(InputErrors.CONNECTION_CLOSED);
    this.#queue.push(item);
    this.#kick();
  }

  /** A bare request over the same TLS connection: what delivery costs without records (benchmarks). */
  async ping(path: string): Promise<number> {
    const response = await this.#client.request({ method: 'GET', path });
    await response.body.dump();
    return response.statusCode;
  }

  /** Resolves when the queue is empty (or the forwarder is closed). */
  drained(): Promise<void> {
    if (this.#queue.length === 0 || this.#closed) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.#idle;
      this.#idle = () => {
        previous?.();
        resolve();
      };
    });
  }

  /** Stops delivery and forgets what is queued (the caller reports how much). */
  async close(): Promise<number> {
    this.#closed = true;
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#retryTimer = null;
    const dropped = this.#queue.length;
    this.#queue.length = 0;
    this.#notifyIdle();
    await this.#client.destroy().catch(() => undefined);
    return dropped;
  }

  #kick(): void {
    if (this.#closed || this.#inFlight || this.#retryTimer !== null || this.#queue.length === 0) return;
    this.#inFlight = true;
    void this.#send().finally(() => {
      this.#inFlight = false;
      this.#kick();
    });
  }

  async #send(): Promise<void> {
    const batch = this.#queue.slice(0, this.#options.maxBatch);
    const body: SecureInputBatch = { ...this.#options.header, records: batch.map((item) => item.record) };
    this.#attempts++;
    const before = this.#ackedSeq;
    let failure: VmiError | null = null;
    try {
      const response = await this.#client.request({
        method: 'POST',
        path: this.#path,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const text = await response.body.text();
      if (response.statusCode === 200) {
        this.#acknowledge(validators.secureInputAck.decode(text).acked_seq);
      } else {
        failure = this.#rejection(response.statusCode, text);
      }
    } catch (err) {
      failure = isVmiError(err)
        ? new VmiError(InputErrors.SERVER_REJECTED, 'unreadable acknowledgement', { details: { server_code: err.code } })
        : unreachable(err, this.#options.endpoint.origin);
    }
    if (this.#closed) return;
    if (failure === null) {
      this.#attempts = 0;
      return;
    }
    const progressed = this.#ackedSeq > before;
    const retryInMs = progressed ? 0 : backoffDelay(this.#attempts, this.#options.backoff);
    this.#options.listener.failed(failure, this.#attempts, retryInMs);
    if (progressed) this.#attempts = 0;
    else {
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = null;
        this.#kick();
      }, retryInMs);
    }
  }

  /** A refusal still tells how far the server got (`details.acked_seq`): take that progress. */
  #rejection(status: number, text: string): VmiError {
    let code = 'unknown';
    try {
      const parsed = JSON.parse(text) as { error?: { code?: unknown; details?: { acked_seq?: unknown } } };
      if (typeof parsed.error?.code === 'string' && /^VMI_ERR_[A-Z0-9_]+$/.test(parsed.error.code)) code = parsed.error.code;
      const acked = parsed.error?.details?.acked_seq;
      if (typeof acked === 'number' && Number.isSafeInteger(acked)) this.#acknowledge(acked);
    } catch {
      // Not our server's error shape; the status alone is reported.
    }
    return new VmiError(InputErrors.SERVER_REJECTED, `HTTP ${status} ${code}`, { details: { http_status: status, server_code: code } });
  }

  #acknowledge(ackedSeq: number): void {
    if (ackedSeq <= this.#ackedSeq) return;
    let count = 0;
    while (count < this.#queue.length && (this.#queue[count]?.record.seq ?? Number.POSITIVE_INFINITY) <= ackedSeq) count++;
    const delivered = this.#queue.splice(0, count);
    this.#ackedSeq = ackedSeq;
    if (delivered.length > 0) this.#options.listener.delivered(delivered, ackedSeq, this.#attempts);
    if (this.#queue.length === 0) this.#notifyIdle();
  }

  #notifyIdle(): void {
    const idle = this.#idle;
    this.#idle = null;
    idle?.();
  }
}

function unreachable(err: unknown, origin: string): VmiError {
  const code = typeof (err as { code?: unknown })?.code === 'string' ? (err as { code: string }).code : 'network error';
  // The cause is kept off the error: its text is the transport's, and nothing here needs it.
  return new VmiError(InputErrors.SERVER_UNREACHABLE, `${origin} (${code})`, { details: { reason: code } });
}
