/** @vmi/secure-input-server: the secure-input record protocol (both halves) and a reference server. */
export { fromBase64Url, toBase64Url } from './base64url.js';
export { contractsValidatorCompiler } from './fastify-validation.js';
export { decodeKeyRecord, encodeKeyRecord } from './key-records.js';
export { assertKnownKeys, KNOWN_QCODES, keysToText, MODIFIERS, PLACEHOLDER_QCODE, textToKeys } from './keymap.js';
export { connectionInfo, recordAad } from './protocol.js';
export { type BatchResult, type DeliveredRecord, type ReceiverOptions, type ReceiverStats, SecureInputReceiver } from './receiver.js';
export { RecordKeys, type SecretExporter } from './record-keys.js';
export { PING_PATH, RECORDS_PATH, ReferenceServer, type ReferenceServerOptions } from './reference-server.js';
export { RecordSealer, type RecordSealerOptions } from './sealer.js';
export {
  AEAD_NONCE_BYTES,
  AEAD_TAG_BYTES,
  DEFAULT_SUITE,
  exportPublicKey,
  generateKeyPair,
  type HpkeKey,
  type HpkeKeyPair,
  importPublicKey,
  publicKeyId,
  type RecordAead,
  type ResolvedSuite,
  resolveSuite,
  SUPPORTED_SUITES,
  suiteKey,
  X25519_KEY_BYTES,
} from './suite.js';
export { createTestPki, type TestPki } from './test-pki.js';
