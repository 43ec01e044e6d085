import type { CipherSuiteName, CloseReason, ConnectionInfo, ConnectionState, KeyEvent } from '@vmi/contracts';
import { InputErrors, VmiError } from '@vmi/contracts';
import { encodeKeyRecord, type RecordSealer } from '@vmi/secure-input-server';
import { DeliveryWindow } from '../events/delivery-window.js';
import type { ConnectionFacts, InputEvents } from '../events/input-events.js';
import type { BackoffOptions } from '../forward/backoff.js';
import { Forwarder } from '../forward/forwarder.js';

export interface ConnectionSettings {
  readonly backoff: BackoffOptions;
  readonly requestTimeoutMs: number;
  readonly maxBatch: number;
  /** Undelivered records a connection may hold before input is refused. */
  readonly maxPending: number;
  /** How often delivered records are summarised into one `forwarded` event. */
  readonly forwardedEventMs: number;
  /** A `failed` event on the first failure of an outage, then every this many attempts. */
  readonly failedEventEvery: number;
  /** On shutdown, how long records already sealed may still take to be delivered. */
  readonly shutdownGraceMs: number;
}

export interface ConnectionInit {
  readonly id: string;
  readonly guest: string;
  readonly application: string;
  readonly endpoint: URL;
  readonly caPem: string | undefined;
  readonly suite: CipherSuiteName;
  readonly ttlMs: number;
  readonly sealer: RecordSealer;
  readonly gatewayKeyId: string;
}

/**
 * One security connection: its sealing context, its delivery queue and its lifetime. Input comes in
 * as key events, is sealed at once (the plaintext buffer is zeroed right after), and only the
 * ciphertext waits for delivery.
 */
export class SecureConnection {
  readonly id: string;
  readonly guest: string;
  readonly application: string;
  readonly endpoint: URL;
  readonly suite: CipherSuiteName;
  readonly openedAt: Date;
  readonly expiresAt: Date;
  readonly gatewayKeyId: string;
  #state: ConnectionState = 'active';
  readonly #sealer: RecordSealer;
  readonly #forwarder: Forwarder;
  readonly #events: InputEvents;
  readonly #settings: ConnectionSettings;
  readonly #window = new DeliveryWindow();
  #windowTimer: NodeJS.Timeout | null = null;
  #expiryTimer: NodeJS.Timeout;
  #keysSealed = 0;
  #failing = false;
  /** The end of this connection, once it began: later calls share it. */
  #ending: Promise<void> | null = null;

  constructor(init: ConnectionInit, settings: ConnectionSettings, events: InputEvents, onExpired: (c: SecureConnection) => void) {
    this.id = init.id;
    this.guest = init.guest;
    this.application = init.application;
    this.endpoint = init.endpoint;
    this.suite = init.suite;
    this.gatewayKeyId = init.gatewayKeyId;
    this.openedAt = new Date();
    this.expiresAt = new Date(this.openedAt.getTime() + init.ttlMs);
    this.#sealer = init.sealer;
    this.#events = events;
    this.#settings = settings;
    this.#forwarder = new Forwarder({
      endpoint: init.endpoint,
      ...(init.caPem === undefined ? {} : { caPem: init.caPem }),
      header: {
        version: 1,
        connection_id: init.id,
        application: init.application,
        suite: init.suite,
        sender_key_id: init.gatewayKeyId,
        enc: init.sealer.enc,
      },
      backoff: settings.backoff,
      requestTimeoutMs: settings.requestTimeoutMs,
      maxBatch: settings.maxBatch,
      listener: {
        delivered: (items, _acked, attempts) => {
          this.#failing = false;
          this.#window.add(items, attempts, performance.now());
          this.#scheduleWindow();
        },
        failed: (error, attempts) => {
          const first = !this.#failing;
          this.#failing = true;
          if (first || attempts % settings.failedEventEvery === 0) this.#events.emit('failed', this.facts(), { attempts, error });
        },
      },
    });
    this.#expiryTimer = setTimeout(() => onExpired(this), init.ttlMs);
    this.#expiryTimer.unref();
    this.#events.emit('opened', this.facts());
  }

  get state(): ConnectionState {
    if (this.#state === 'active' && Date.now() >= this.expiresAt.getTime()) return 'expired';
    return this.#state;
  }

  get pending(): number {
    return this.#forwarder.pending;
  }

  facts(): ConnectionFacts {
    return {
      connectionId: this.id,
      guest: this.guest,
      application: this.application,
      serverOrigin: this.endpoint.origin,
      expiresAt: this.expiresAt,
      ackedSeq: this.#forwarder.ackedSeq,
      pending: this.#forwarder.pending,
    };
  }

  /** Throws the error that says why this connection takes no input, if it takes none. */
  assertOpen(): void {
    const state = this.state;
    if (state === 'expired') throw new VmiError(InputErrors.CONNECTION_EXPIRED, undefined, { details: { connection_id: this.id } });
    if (state === 'closed') throw new VmiError(InputErrors.CONNECTION_CLOSED, undefined, { details: { connection_id: this.id } });
  }

  /** Seals key events into the next record and queues it; returns its sequence number. */
  submit(events: readonly KeyEvent[], receivedAt: number): number {
    this.assertOpen();
    if (this.#forwarder.pending >= this.#settings.maxPending) {
      throw new VmiError(InputErrors.QUEUE_FULL, undefined, { details: { connection_id: this.id, pending: this.#forwarder.pending } });
    }
    const record = this.#sealer.seal(encodeKeyRecord(events));
    this.#keysSealed += events.length;
    this.#forwarder.enqueue({ record, keys: events.length, receivedAt });
    return record.seq;
  }

  /** Resolves once every record sealed so far was acknowledged (or the connection ended). */
  delivered(): Promise<void> {
    return this.#forwarder.drained();
  }

  /** A bare GET over the connection's own TLS connection (the benchmark's floor). */
  ping(path: string): Promise<number> {
    return this.#forwarder.ping(path);
  }

  info(focused: boolean): ConnectionInfo {
    return {
      connection_id: this.id,
      guest: this.guest,
      application: this.application,
      server_origin: this.endpoint.origin,
      suite: this.suite,
      state: this.state,
      focused,
      opened_at: this.openedAt.toISOString(),
      expires_at: this.expiresAt.toISOString(),
      sealed_seq: this.#sealer.sealedSeq,
      acked_seq: this.#forwarder.ackedSeq,
      pending: this.#forwarder.pending,
      gateway_key_id: this.gatewayKeyId,
    };
  }

  /**
   * Ends the connection: no more input, and the record keys are overwritten at once. Records
   * already sealed are still delivered (ciphertext needs no key) until they are acknowledged or the
   * connection's expiry, whichever comes first; on shutdown for at most `shutdownGraceMs`. Then
   * what is left is dropped and counted in the `closed` event. The promise settles at that point.
   */
  end(reason: CloseReason): Promise<void> {
    if (this.#ending) return this.#ending;
    this.#state = reason === 'expired' ? 'expired' : 'closed';
    clearTimeout(this.#expiryTimer);
    this.#sealer.destroy();
    const now = Date.now();
    const deadline =
      reason === 'expired'
        ? now
        : reason === 'shutdown'
          ? Math.min(this.expiresAt.getTime(), now + this.#settings.shutdownGraceMs)
          : this.expiresAt.getTime();
    this.#ending = (async () => {
      if (this.#forwarder.pending > 0 && deadline > now) await this.#drainedOrTimeout(deadline - now);
      const dropped = await this.#forwarder.close();
      this.#flushWindow();
      this.#events.emit(
        'closed',
        { ...this.facts(), pending: dropped },
        { reason, records: this.#sealer.sealedSeq, keys: this.#keysSealed, lastSeq: this.#sealer.sealedSeq },
      );
    })();
    return this.#ending;
  }

  async #drainedOrTimeout(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    });
    try {
      await Promise.race([this.#forwarder.drained(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  #scheduleWindow(): void {
    if (this.#windowTimer !== null) return;
    this.#windowTimer = setTimeout(() => {
      this.#windowTimer = null;
      this.#flushWindow();
    }, this.#settings.forwardedEventMs);
    this.#windowTimer.unref();
  }

  #flushWindow(): void {
    if (this.#windowTimer !== null) clearTimeout(this.#windowTimer);
    this.#windowTimer = null;
    const summary = this.#window.take();
    if (summary) this.#events.emit('forwarded', this.facts(), summary);
  }
}
