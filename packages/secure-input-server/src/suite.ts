import { createHash, type webcrypto } from 'node:crypto';
import { CipherSuite, DhkemX25519HkdfSha256, ExportOnly, HkdfSha256 } from '@hpke/core';
import { type CipherSuiteName, InputErrors, VmiError } from '@vmi/contracts';
import { fromBase64Url, toBase64Url } from './base64url.js';

/** WebCrypto key types (the project's `lib` has no DOM globals). */
export type HpkeKey = webcrypto.CryptoKey;
export type HpkeKeyPair = webcrypto.CryptoKeyPair;

/** The suite connections use unless told otherwise. */
export const DEFAULT_SUITE: CipherSuiteName = Object.freeze({ kem: 'DHKEM-X25519-HKDF-SHA256', kdf: 'HKDF-SHA256', aead: 'AES-256-GCM' });

/** A record AEAD by name: Node's cipher name and key length (all take a 12-byte nonce and a 16-byte tag). */
export interface RecordAead {
  readonly name: string;
  readonly cipher: 'aes-256-gcm' | 'aes-128-gcm' | 'chacha20-poly1305';
  readonly keyBytes: number;
}

const KEMS = { 'DHKEM-X25519-HKDF-SHA256': () => new DhkemX25519HkdfSha256() } as const;
const KDFS = { 'HKDF-SHA256': () => new HkdfSha256() } as const;
const AEADS: Record<string, RecordAead> = {
  'AES-256-GCM': { name: 'AES-256-GCM', cipher: 'aes-256-gcm', keyBytes: 32 },
  'AES-128-GCM': { name: 'AES-128-GCM', cipher: 'aes-128-gcm', keyBytes: 16 },
  'CHACHA20-POLY1305': { name: 'CHACHA20-POLY1305', cipher: 'chacha20-poly1305', keyBytes: 32 },
};

/** AEAD tag length of every supported AEAD: a ciphertext no longer than this is truncated. */
export const AEAD_TAG_BYTES = 16;
export const AEAD_NONCE_BYTES = 12;
/** Raw public key and `enc` length of DHKEM(X25519). */
export const X25519_KEY_BYTES = 32;

export const SUPPORTED_SUITES = {
  kem: Object.keys(KEMS),
  kdf: Object.keys(KDFS),
  aead: Object.keys(AEADS),
} as const;

/**
 * A resolved suite. HPKE (RFC 9180) runs in export-only mode: its key schedule gives each
 * connection secrets, and records are sealed with the named AEAD under keys exported from it.
 * That keeps every record key in a byte buffer this process can zero, and seals synchronously
 * (WebCrypto would take a thread-pool round trip per key).
 */
export interface ResolvedSuite {
  readonly name: CipherSuiteName;
  readonly hpke: CipherSuite;
  readonly aead: RecordAead;
}

const cache = new Map<string, ResolvedSuite>();

export function suiteKey(name: CipherSuiteName): string {
  return `${name.kem}/${name.kdf}/${name.aead}`;
}

/** The suite for a name; throws `VMI_ERR_INPUT_UNSUPPORTED_ALGORITHM` naming the part. */
export function resolveSuite(name: CipherSuiteName): ResolvedSuite {
  const key = suiteKey(name);
  const cached = cache.get(key);
  if (cached) return cached;
  const kem = KEMS[name.kem as keyof typeof KEMS];
  const kdf = KDFS[name.kdf as keyof typeof KDFS];
  const aead = AEADS[name.aead];
  if (!kem) throw unsupported('kem', name.kem);
  if (!kdf) throw unsupported('kdf', name.kdf);
  if (!aead) throw unsupported('aead', name.aead);
  const resolved: ResolvedSuite = {
    name: { kem: name.kem, kdf: name.kdf, aead: name.aead },
    hpke: new CipherSuite({ kem: kem(), kdf: kdf(), aead: new ExportOnly() }),
    aead,
  };
  cache.set(key, resolved);
  return resolved;
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
export async function importPublicKey(suite: ResolvedSuite, text: string, path = '/server_public_key'): Promise<HpkeKey> {
  const raw = fromBase64Url(text);
  if (raw === null || raw.byteLength !== X25519_KEY_BYTES) {
    throw new VmiError(InputErrors.MALFORMED_KEY, `expected ${X25519_KEY_BYTES} bytes of base64url`, { path });
  }
  try {
    return await suite.hpke.kem.deserializePublicKey(raw);
  } catch (cause) {
    throw new VmiError(InputErrors.MALFORMED_KEY, undefined, { path, cause });
  }
}

export function generateKeyPair(suite: ResolvedSuite = resolveSuite(DEFAULT_SUITE)): Promise<HpkeKeyPair> {
  return suite.hpke.kem.generateKeyPair();
}

export async function exportPublicKey(key: HpkeKey, suite: ResolvedSuite = resolveSuite(DEFAULT_SUITE)): Promise<string> {
  return toBase64Url(new Uint8Array(await suite.hpke.kem.serializePublicKey(key)));
}

/** A short public name of a public key: the first 8 bytes of SHA-256 of its raw form, in hex. */
export function publicKeyId(publicKeyBase64Url: string): string {
  return createHash('sha256').update(Buffer.from(publicKeyBase64Url, 'base64url')).digest('hex').slice(0, 16);
}
