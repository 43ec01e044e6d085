import { type CipherSuiteName, InputErrors, type SealedRecord, VmiError } from '@vmi/contracts';
import { toBase64Url } from './base64url.js';
import { connectionInfo, recordAad } from './protocol.js';
import { RecordKeys } from './record-keys.js';
import { type HpkeKeyPair, importPublicKey, resolveSuite } from './suite.js';

export interface RecordSealerOptions {
  readonly suite: CipherSuiteName;
  /** The server's pinned public key, raw, base64url. */
  readonly serverPublicKey: string;
  /** The sender's static key pair: the server authenticates records by it (HPKE Auth mode). */
  readonly senderKey: HpkeKeyPair;
  readonly connectionId: string;
  readonly application: string;
}

/**
 * The sending half of one connection. Setup is HPKE Auth mode to the server's pinned key, with the
 * connection id and application in `info`; records are then sealed with keys exported from that
 * context, each under its own sequence number, which is also in the AAD.
 */
export class RecordSealer {
  readonly enc: string;
  readonly #keys: RecordKeys;
  readonly #connectionId: string;
  #seq = 0;
  #destroyed = false;

  private constructor(enc: string, keys: RecordKeys, connectionId: string) {
    this.enc = enc;
    this.#keys = keys;
    this.#connectionId = connectionId;
  }

  /** Throws `VMI_ERR_INPUT_UNSUPPORTED_ALGORITHM` or `VMI_ERR_INPUT_MALFORMED_KEY` (including low-order points). */
  static async create(options: RecordSealerOptions): Promise<RecordSealer> {
    const suite = resolveSuite(options.suite);
    const recipientPublicKey = await importPublicKey(suite, options.serverPublicKey);
    let context: Awaited<ReturnType<typeof suite.hpke.createSenderContext>>;
    try {
      context = await suite.hpke.createSenderContext({
        recipientPublicKey,
        senderKey: options.senderKey,
        info: connectionInfo(options.connectionId, options.application),
      });
    } catch (cause) {
      // An all-zero shared secret (a low-order point) is the only way encapsulation fails here.
      throw new VmiError(InputErrors.MALFORMED_KEY, 'key agreement failed', { path: '/server_public_key', cause });
    }
    // Only the exported record keys are kept; the HPKE context is dropped here.
    const keys = await RecordKeys.derive(context, suite.aead);
    return new RecordSealer(toBase64Url(new Uint8Array(context.enc)), keys, options.connectionId);
  }

  /** Sequence number of the last record sealed (0 before the first). */
  get sealedSeq(): number {
    return this.#seq;
  }

  /** Seals one record under the next sequence number, and zeroes `plaintext`. */
  seal(plaintext: Uint8Array): SealedRecord {
    try {
      if (this.#destroyed) throw new VmiError(InputErrors.CONNECTION_CLOSED);
      const seq = ++this.#seq;
      return { seq, ct: toBase64Url(this.#keys.seal(seq, recordAad(this.#connectionId, seq), plaintext)) };
    } finally {
      plaintext.fill(0);
    }
  }

  /** Overwrites the record keys; nothing can be sealed afterwards. */
  destroy(): void {
    this.#destroyed = true;
    this.#keys.destroy();
  }
}
