import { createHash, type webcrypto } from 'node:crypto';
import { Aes128Gcm, Aes256Gcm, CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import { type CipherSuiteName, InputErrors, VmiError } from '@vmi/contracts';
import { fromBase64Url, toBase64Url } from './base64url.js';

/**
 * The HPKE cipher suites this side speaks: only what Node's WebCrypto implements natively
 * (X25519 and AES-GCM; @hpke/core has no native ChaCha20-Poly1305), so no pure-JS primitive
 * ever handles key material.
 */
export const DEFAULT_SUITE: CipherSuiteName = Object.freeze({ kem: 'DHKEM-X25519-HKDF-SHA256', kdf: 'HKDF-SHA256', aead: 'AES-256-GCM' });

/** WebCrypto key types (the project's `lib` has no DOM globals). */
export type HpkeKey = webcrypto.CryptoKey;
export type HpkeKeyPair = webcrypto.CryptoKeyPair;

const KEMS = { 'DHKEM-X25519-HKDF-SHA256': () => new DhkemX25519HkdfSha256() } as const;
const KDFS = { 'HKDF-SHA256': () => new HkdfSha256() } as const;
const AEADS = { 'AES-256-GCM': () => new Aes256Gcm(), 'AES-128-GCM': () => new Aes128Gcm() } as const;

/** AEAD tag length of every supported AEAD: a ciphertext shorter than this is truncated. */
export const AEAD_TAG_BYTES = 16;
/** Raw public key and `enc` length of DHKEM(X25519). */
export const X25519_KEY_BYTES = 32;

export const SUPPORTED_SUITES = {
  kem: Object.keys(KEMS),
  kdf: Object.keys(KDFS),
  aead: Object.keys(AEADS),
} as const;

const cache = new Map<string, CipherSuite>();

export function suiteKey(name: CipherSuiteName): string {
  return `${name.kem}/${name.kdf}/${name.aead}`;
}

/** The cipher suite for a name; throws `VMI_ERR_INPUT_UNSUPPORTED_ALGORITHM` naming the part. */
export function resolveSuite(name: CipherSuiteName): CipherSuite {
  const key = suiteKey(name);
  const cached = cache.get(key);
  if (cached) return cached;
  const kem = KEMS[name.kem as keyof typeof KEMS];
  const kdf = KDFS[name.kdf as keyof typeof KDFS];
  const aead = AEADS[name.aead as keyof typeof AEADS];
  if (!kem) throw unsupported('kem', name.kem);
  if (!kdf) throw unsupported('kdf', name.kdf);
  if (!aead) throw unsupported('aead', name.aead);
  const suite = new CipherSuite({ kem: kem(), kdf: kdf(), aead: aead() });
  cache.set(key, suite);
  return suite;
}

function unsupported(part: 'kem' | 'kdf' | 'aead', value: string): VmiError {
  return new VmiError(InputErrors.UNSUPPORTED_ALGORITHM, `${part} ${JSON.stringify(value.slice(0, 64))}`, {
    path: `/suite/${part}`,
    details: { supported: SUPPORTED_SUITES[part] },
  });
}

/**
 * Imports a raw public key given as base64url; throws `VMI_ERR_INPUT_MALFORMED_KEY` when it is not
 * one. (A low-order X25519 point imports, and is refused when the first context is set up.)
 */
export async function importPublicKey(suite: CipherSuite, text: string, path = '/server_public_key'): Promise<HpkeKey> {
  const raw = fromBase64Url(text);
  if (raw === null || raw.byteLength !== X25519_KEY_BYTES) {
    throw new VmiError(InputErrors.MALFORMED_KEY, `expected ${X25519_KEY_BYTES} bytes of base64url`, { path });
  }
  try {
    return await suite.kem.deserializePublicKey(raw);
  } catch (cause) {
    throw new VmiError(InputErrors.MALFORMED_KEY, undefined, { path, cause });
  }
}

export async function exportPublicKey(suite: CipherSuite, key: HpkeKey): Promise<string> {
  return toBase64Url(new Uint8Array(await suite.kem.serializePublicKey(key)));
}

/** A short public name of a public key: the first 8 bytes of SHA-256 of its raw form, in hex. */
export function publicKeyId(publicKeyBase64Url: string): string {
  return createHash('sha256').update(Buffer.from(publicKeyBase64Url, 'base64url')).digest('hex').slice(0, 16);
}
