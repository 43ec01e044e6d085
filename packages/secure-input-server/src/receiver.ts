import { timingSafeEqual } from 'node:crypto';
import { InputErrors, isVmiError, type KeyEvent, type SecureInputAck, type SecureInputBatch, VmiError, validators } from '@vmi/contracts';
import { fromBase64Url } from './base64url.js';
import { decodeKeyRecord } from './key-records.js';
import { connectionInfo, recordAad } from './protocol.js';
import { RecordKeys } from './record-keys.js';
import {
  AEAD_TAG_BYTES,
  DEFAULT_SUITE,
  type HpkeKey,
  type HpkeKeyPair,
  importPublicKey,
  publicKeyId,
  resolveSuite,
  suiteKey,
} from './suite.js';

export interface ReceiverOptions {
  /** This server's HPKE key pair; its public half is what gateways pin. */
  readonly serverKeyPair: HpkeKeyPair;
  /** Raw base64url public keys of the gateways this server accepts records from. */
  readonly gatewayPublicKeys: readonly string[];
  /** A connection with no record for this long is ended; later records for it are refused. */
  readonly idleTimeoutMs?: number;
}

export interface DeliveredRecord {
  readonly connectionId: string;
  readonly application: string;
  readonly seq: number;
  readonly keys: KeyEvent[];
}

/** What one batch did: the ack to send, the records to hand to the application, and the error if one stopped it. */
export interface BatchResult {
  readonly ack: SecureInputAck;
  readonly delivered: DeliveredRecord[];
  readonly error: VmiError | null;
}

interface ConnectionState {
  readonly keys: RecordKeys;
  readonly enc: Uint8Array;
  readonly suite: string;
  readonly application: string;
  readonly senderKeyId: string;
  acked: number;
  lastSeen: number;
}

export interface ReceiverStats {
  connections: number;
  accepted: number;
  replayed: number;
  rejected: Record<string, number>;
}

/**
 * The server side of secure input: authenticates records as coming from a pinned gateway (HPKE Auth
 * mode), decrypts them, and hands them to the application exactly once and in order. Per
 * connection it keeps the highest sequence accepted; a record at or below it is a replay (dropped,
 * acknowledged), one above the next expected is out of order (refused, nothing after it is opened).
 */
export class SecureInputReceiver {
  readonly #options: ReceiverOptions;
  readonly #senders = new Map<string, Promise<HpkeKey>>();
  readonly #connections = new Map<string, ConnectionState>();
  readonly #ended = new Map<string, number>();
  readonly #queues = new Map<string, Promise<unknown>>();
  readonly #stats: ReceiverStats = { connections: 0, accepted: 0, replayed: 0, rejected: {} };

  constructor(options: ReceiverOptions) {
    this.#options = options;
    for (const key of options.gatewayPublicKeys) {
      const imported = importPublicKey(resolveSuite(DEFAULT_SUITE), key, '/gatewayPublicKeys');
      // A bad pinned key fails the batches that name it; keep the rejection from going unhandled meanwhile.
      imported.catch(() => undefined);
      this.#senders.set(publicKeyId(key), imported);
    }
  }

  get stats(): ReceiverStats {
    return { ...this.#stats, connections: this.#connections.size, rejected: { ...this.#stats.rejected } };
  }

  /** Highest sequence accepted on a connection (0 when none or unknown). */
  ackedSeq(connectionId: string): number {
    return this.#connections.get(connectionId)?.acked ?? 0;
  }

  /** Ends a connection: its keys are overwritten, its state dropped, and any later record for it refused. */
  end(connectionId: string): void {
    this.#connections.get(connectionId)?.keys.destroy();
    this.#connections.delete(connectionId);
    this.#ended.set(connectionId, Date.now());
  }

  /**
   * Validates and processes one batch (a request body). Never throws for bad input: the result
   * carries the error, beside whatever records were accepted before it.
   */
  accept(body: unknown): Promise<BatchResult> {
    let batch: SecureInputBatch;
    try {
      batch = validators.secureInputBatch.parse(body);
    } catch (err) {
      return Promise.resolve(
        this.#failed(
          typeof (body as { connection_id?: unknown })?.connection_id === 'string'
            ? String((body as { connection_id: string }).connection_id)
            : '',
          asVmiError(err),
        ),
      );
    }
    // One batch at a time per connection: the sequence checks need it.
    const previous = this.#queues.get(batch.connection_id) ?? Promise.resolve();
    const run = previous.then(() => this.#process(batch));
    const tail = run.catch(() => undefined);
    this.#queues.set(batch.connection_id, tail);
    void tail.then(() => {
      if (this.#queues.get(batch.connection_id) === tail) this.#queues.delete(batch.connection_id);
    });
    return run;
  }

  #failed(connectionId: string, error: VmiError, acked = 0): BatchResult {
    this.#stats.rejected[error.code] = (this.#stats.rejected[error.code] ?? 0) + 1;
    const id = /^[0-9a-f-]{36}$/.test(connectionId) ? connectionId : '00000000-0000-0000-0000-000000000000';
    return { ack: { connection_id: id, acked_seq: acked, accepted: 0, replayed: 0 }, delivered: [], error };
  }

  async #process(batch: SecureInputBatch): Promise<BatchResult> {
    this.#expireIdle();
    const id = batch.connection_id;
    if (this.#ended.has(id)) return this.#failed(id, new VmiError(InputErrors.CONNECTION_ENDED));
    for (let i = 1; i < batch.records.length; i++) {
      if ((batch.records[i]?.seq ?? 0) !== (batch.records[i - 1]?.seq ?? 0) + 1) {
        return this.#failed(
          id,
          new VmiError(InputErrors.OUT_OF_ORDER, 'records in a batch must be consecutive', { path: `/records/${i}/seq` }),
          this.ackedSeq(id),
        );
      }
    }
    let state = this.#connections.get(id);
    let fresh = false;
    try {
      if (state) this.#checkSameContext(state, batch);
      else {
        state = await this.#establish(batch);
        fresh = true;
      }
    } catch (err) {
      return this.#failed(id, asVmiError(err), state?.acked ?? 0);
    }
    const delivered: DeliveredRecord[] = [];
    let replayed = 0;
    let error: VmiError | null = null;
    for (const [index, record] of batch.records.entries()) {
      if (record.seq <= state.acked) {
        replayed++;
        continue;
      }
      if (record.seq !== state.acked + 1) {
        error = new VmiError(InputErrors.OUT_OF_ORDER, `expected ${state.acked + 1}`, {
          path: `/records/${index}/seq`,
          details: { acked_seq: state.acked },
        });
        break;
      }
      const ct = fromBase64Url(record.ct);
      if (ct === null || ct.byteLength <= AEAD_TAG_BYTES) {
        error = new VmiError(InputErrors.RECORD_MALFORMED, 'ciphertext truncated', {
          path: `/records/${index}/ct`,
          details: { acked_seq: state.acked },
        });
        break;
      }
      let plaintext: Uint8Array;
      try {
        plaintext = state.keys.open(record.seq, recordAad(id, record.seq), ct);
      } catch {
        error = new VmiError(InputErrors.RECORD_AUTH, `record ${record.seq}`, {
          path: `/records/${index}/ct`,
          details: { acked_seq: state.acked },
        });
        break;
      }
      // Authentic: this sequence is spent whatever the plaintext holds.
      state.acked = record.seq;
      try {
        delivered.push({ connectionId: id, application: state.application, seq: record.seq, keys: decodeKeyRecord(plaintext) });
      } catch (err) {
        error = asVmiError(err);
        break;
      } finally {
        plaintext.fill(0);
      }
    }
    if (fresh && state.acked > 0) this.#connections.set(id, state);
    else if (fresh) state.keys.destroy();
    state.lastSeen = Date.now();
    this.#stats.accepted += delivered.length;
    this.#stats.replayed += replayed;
    if (error) this.#stats.rejected[error.code] = (this.#stats.rejected[error.code] ?? 0) + 1;
    return { ack: { connection_id: id, acked_seq: state.acked, accepted: delivered.length, replayed }, delivered, error };
  }

  #checkSameContext(state: ConnectionState, batch: SecureInputBatch): void {
    const enc = fromBase64Url(batch.enc);
    const sameEnc = enc !== null && enc.byteLength === state.enc.byteLength && timingSafeEqual(enc, state.enc);
    if (
      !sameEnc ||
      state.suite !== suiteKey(batch.suite) ||
      state.application !== batch.application ||
      state.senderKeyId !== batch.sender_key_id
    ) {
      throw new VmiError(InputErrors.CONTEXT_MISMATCH, undefined, { details: { acked_seq: state.acked } });
    }
  }

  async #establish(batch: SecureInputBatch): Promise<ConnectionState> {
    const suite = resolveSuite(batch.suite);
    const sender = this.#senders.get(batch.sender_key_id);
    if (!sender) throw new VmiError(InputErrors.UNKNOWN_SENDER, undefined, { path: '/sender_key_id' });
    const enc = fromBase64Url(batch.enc);
    if (enc === null || enc.byteLength !== 32) throw new VmiError(InputErrors.RECORD_MALFORMED, 'enc', { path: '/enc' });
    let context: Awaited<ReturnType<typeof suite.hpke.createRecipientContext>>;
    try {
      context = await suite.hpke.createRecipientContext({
        recipientKey: this.#options.serverKeyPair,
        enc: enc.slice().buffer,
        info: connectionInfo(batch.connection_id, batch.application),
        senderPublicKey: await sender,
      });
    } catch (cause) {
      throw new VmiError(InputErrors.RECORD_AUTH, 'key agreement failed', { path: '/enc', cause });
    }
    return {
      keys: await RecordKeys.derive(context, suite.aead),
      enc: enc.slice(),
      suite: suiteKey(batch.suite),
      application: batch.application,
      senderKeyId: batch.sender_key_id,
      acked: 0,
      lastSeen: Date.now(),
    };
  }

  #expireIdle(): void {
    const limit = this.#options.idleTimeoutMs ?? 3_600_000;
    const now = Date.now();
    for (const [id, state] of this.#connections) if (now - state.lastSeen > limit) this.end(id);
    // Ended ids are remembered long enough to outlive any gateway retry of their records.
    for (const [id, at] of this.#ended) if (now - at > 4 * limit) this.#ended.delete(id);
  }
}

function asVmiError(err: unknown): VmiError {
  if (isVmiError(err)) return err;
  return new VmiError(InputErrors.RECORD_MALFORMED, undefined, { cause: err });
}
