import type { CipherSuite, SenderContext } from '@hpke/core';
import { type CipherSuiteName, InputErrors, type SealedRecord, VmiError } from '@vmi/contracts';
import { toBase64Url } from './base64url.js';
import { connectionInfo, recordAad } from './protocol.js';
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
 * The sending half of one connection: one HPKE Auth-mode context, set up once, sealing records in
 * sequence. HPKE derives each record's nonce from its own counter; the explicit sequence number in
 * the AAD lets the receiver refuse a replayed or reordered record before it tries to open it.
 */
export class RecordSealer {
  readonly enc: string;
  #context: SenderContext | null;
  #seq = 0;
  #chain: Promise<unknown> = Promise.resolve();
  readonly #connectionId: string;

  private constructor(context: SenderContext, connectionId: string) {
    this.#context = context;
    this.#connectionId = connectionId;
    this.enc = toBase64Url(new Uint8Array(context.enc));
  }

  /** Throws `VMI_ERR_INPUT_UNSUPPORTED_ALGORITHM` or `VMI_ERR_INPUT_MALFORMED_KEY` (including low-order points). */
  static async create(options: RecordSealerOptions): Promise<RecordSealer> {
    const suite: CipherSuite = resolveSuite(options.suite);
    const recipientPublicKey = await importPublicKey(suite, options.serverPublicKey);
    let context: SenderContext;
    try {
      context = await suite.createSenderContext({
        recipientPublicKey,
        senderKey: options.senderKey,
        info: connectionInfo(options.connectionId, options.application),
      });
    } catch (cause) {
      // An all-zero shared secret (a low-order point) is the only way encapsulation fails here.
      throw new VmiError(InputErrors.MALFORMED_KEY, 'key agreement failed', { path: '/server_public_key', cause });
    }
    return new RecordSealer(context, options.connectionId);
  }

  /** Sequence number of the last record sealed (0 before the first). */
  get sealedSeq(): number {
    return this.#seq;
  }

  /**
   * Seals one record and zeroes `plaintext` afterwards. Calls are serialised, so sequence numbers
   * follow call order and match HPKE's own counter.
   */
  seal(plaintext: Uint8Array): Promise<SealedRecord> {
    const context = this.#context;
    if (context === null) {
      plaintext.fill(0);
      return Promise.reject(new VmiError(InputErrors.CONNECTION_CLOSED));
    }
    const seq = ++this.#seq;
    const sealed = this.#chain.then(async () => {
      try {
        const ct = await context.seal(plaintext, recordAad(this.#connectionId, seq));
        return { seq, ct: toBase64Url(new Uint8Array(ct)) };
      } finally {
        plaintext.fill(0);
      }
    });
    this.#chain = sealed.catch(() => undefined);
    return sealed;
  }

  /**
   * Drops the context. WebCrypto keeps the AEAD key inside a `CryptoKey` that JavaScript cannot
   * overwrite; dropping the only reference is what is possible, and no raw copy ever exists here.
   */
  destroy(): void {
    this.#context = null;
  }
}
