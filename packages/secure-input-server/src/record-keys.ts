import { type CipherGCM, createCipheriv, createDecipheriv, type DecipherGCM } from 'node:crypto';
import { AEAD_NONCE_BYTES, AEAD_TAG_BYTES, type RecordAead } from './suite.js';

const encoder = new TextEncoder();
const KEY_LABEL = encoder.encode('vmi-secure-input/v1 record key');
const NONCE_LABEL = encoder.encode('vmi-secure-input/v1 record nonce');

/** What an HPKE context offers here: its secret export (RFC 9180 section 5.3). */
export interface SecretExporter {
  export(exporterContext: ArrayBuffer | Uint8Array, length: number): Promise<ArrayBuffer>;
}

/**
 * One connection's record keys, exported from its HPKE context: an AEAD key and a base nonce.
 * Record `seq` uses nonce = base XOR seq (as HPKE's own sequence nonces do), so each sequence
 * number gets a distinct nonce and either side can open any record without a lock-step counter.
 * The bytes live in buffers that `destroy()` overwrites.
 */
export class RecordKeys {
  readonly #aead: RecordAead;
  readonly #key: Buffer;
  readonly #nonceBase: Buffer;
  #destroyed = false;

  private constructor(aead: RecordAead, key: Buffer, nonceBase: Buffer) {
    this.#aead = aead;
    this.#key = key;
    this.#nonceBase = nonceBase;
  }

  static async derive(context: SecretExporter, aead: RecordAead): Promise<RecordKeys> {
    const key = Buffer.from(await context.export(KEY_LABEL, aead.keyBytes));
    const nonceBase = Buffer.from(await context.export(NONCE_LABEL, AEAD_NONCE_BYTES));
    return new RecordKeys(aead, key, nonceBase);
  }

  #nonce(seq: number): Buffer {
    if (this.#destroyed) throw new Error('record keys destroyed');
    const nonce = Buffer.from(this.#nonceBase);
    const counter = Buffer.alloc(8);
    counter.writeBigUInt64BE(BigInt(seq));
    for (let i = 0; i < 8; i++) nonce[AEAD_NONCE_BYTES - 8 + i] = (nonce[AEAD_NONCE_BYTES - 8 + i] ?? 0) ^ (counter[i] ?? 0);
    return nonce;
  }

  // Node types GCM and ChaCha20-Poly1305 ciphers apart; both offer what is used here.
  #cipher(seq: number): CipherGCM {
    const options = { authTagLength: AEAD_TAG_BYTES };
    const { cipher } = this.#aead;
    return cipher === 'chacha20-poly1305'
      ? (createCipheriv(cipher, this.#key, this.#nonce(seq), options) as unknown as CipherGCM)
      : createCipheriv(cipher, this.#key, this.#nonce(seq), options);
  }

  #decipher(seq: number): DecipherGCM {
    const options = { authTagLength: AEAD_TAG_BYTES };
    const { cipher } = this.#aead;
    return cipher === 'chacha20-poly1305'
      ? (createDecipheriv(cipher, this.#key, this.#nonce(seq), options) as unknown as DecipherGCM)
      : createDecipheriv(cipher, this.#key, this.#nonce(seq), options);
  }

  /** ciphertext || tag */
  seal(seq: number, aad: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const cipher = this.#cipher(seq);
    cipher.setAAD(aad, { plaintextLength: plaintext.byteLength });
    return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  }

  /** Throws when the record does not authenticate under this sequence number and AAD. */
  open(seq: number, aad: Uint8Array, sealed: Uint8Array): Buffer {
    const body = sealed.subarray(0, sealed.byteLength - AEAD_TAG_BYTES);
    const decipher = this.#decipher(seq);
    decipher.setAAD(aad, { plaintextLength: body.byteLength });
    decipher.setAuthTag(sealed.subarray(sealed.byteLength - AEAD_TAG_BYTES));
    const head = decipher.update(body);
    try {
      return Buffer.concat([head, decipher.final()]);
    } finally {
      head.fill(0);
    }
  }

  destroy(): void {
    this.#destroyed = true;
    this.#key.fill(0);
    this.#nonceBase.fill(0);
  }
}
