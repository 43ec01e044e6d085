import type {
  ConnectionInfo,
  InputAttachRequest,
  InputCloseRequest,
  InputControlError,
  InputDetachRequest,
  InputEvent,
  InputFocusRequest,
  InputIdentityReply,
  InputOpenRequest,
  InputStatusReply,
  InputStatusRequest,
  KeyInputReply,
  KeyInputRequest,
  SecureInputAck,
  SecureInputBatch,
} from '../schemas/input.js';
import { envelopeBadExamples, type SchemaExamples, withField, withoutField } from './types.js';

const connectionId = '0192f4a1-a000-7d2a-9b1e-3f5a6c7d8e9f';
const suite = { kem: 'DHKEM-X25519-HKDF-SHA256', kdf: 'HKDF-SHA256', aead: 'AES-256-GCM' };
const publicKey = 'q1cD2mO3yK6p8vX0l4n9r7s5t2u1w0z9y8x7v6u5t4s';

const inputEvent: InputEvent = {
  id: '0192f4a1-a001-7d2a-9b1e-3f5a6c7d8e9f',
  time: '2026-01-15T11:00:01.000Z',
  version: 1,
  type: 'input',
  host: 'hv-01',
  guest: 'web-1',
  event: 'forwarded',
  connection_id: connectionId,
  application: 'bank-app',
  server_origin: 'https://bank.example:8443',
  records: 12,
  keys: 48,
  first_seq: 1,
  last_seq: 12,
  acked_seq: 12,
  pending: 0,
  attempts: 1,
  timing: { p50_ms: 0.9, max_ms: 2.4 },
  error: null,
  reason: null,
  expires_at: '2026-01-15T11:05:00.000Z',
};

const failedEvent: InputEvent = {
  ...inputEvent,
  event: 'failed',
  records: 0,
  keys: 0,
  first_seq: 0,
  last_seq: 0,
  pending: 3,
  attempts: 4,
  timing: null,
  error: { code: 'VMI_ERR_INPUT_SERVER_UNREACHABLE', status: 503 },
};

const batch: SecureInputBatch = {
  version: 1,
  connection_id: connectionId,
  application: 'bank-app',
  suite,
  sender_key_id: '0123456789abcdef',
  enc: publicKey,
  records: [
    { seq: 1, ct: 'c2VhbGVkLXJlY29yZC1vbmUtd2l0aC10YWc' },
    { seq: 2, ct: 'c2VhbGVkLXJlY29yZC10d28td2l0aC10YWc' },
  ],
};

const ack: SecureInputAck = { connection_id: connectionId, acked_seq: 2, accepted: 2, replayed: 0 };

const open: InputOpenRequest = {
  guest: 'web-1',
  application: 'bank-app',
  endpoint: 'https://bank.example:8443/v1/secure-input/records',
  server_public_key: publicKey,
  suite,
  ttl_s: 300,
  tls_ca_pem: '-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----\n',
  focus: true,
};

const info: ConnectionInfo = {
  connection_id: connectionId,
  guest: 'web-1',
  application: 'bank-app',
  server_origin: 'https://bank.example:8443',
  suite,
  state: 'active',
  focused: true,
  opened_at: '2026-01-15T11:00:00.000Z',
  expires_at: '2026-01-15T11:05:00.000Z',
  sealed_seq: 12,
  acked_seq: 11,
  pending: 1,
  gateway_key_id: '0123456789abcdef',
};

const close: InputCloseRequest = { connection_id: connectionId };
const focus: InputFocusRequest = { guest: 'web-1', connection_id: connectionId };
const statusRequest: InputStatusRequest = { guest: 'web-1' };
const statusReply: InputStatusReply = { guests: [{ guest: 'web-1', focused: connectionId, refusing: false }], connections: [info] };
const identity: InputIdentityReply = { key_id: '0123456789abcdef', public_key: publicKey, kem: 'DHKEM-X25519-HKDF-SHA256' };
const attach: InputAttachRequest = { guest: 'web-1', qmp_socket: '/run/vmi/web-1/input.qmp' };
const detach: InputDetachRequest = { guest: 'web-1' };
const controlError: InputControlError = {
  error: { code: 'VMI_ERR_INPUT_UNKNOWN_GUEST', message: 'No keyboard is attached for this guest', status: 404 },
};
const keys: KeyInputRequest = {
  keys: [
    { qcode: 'shift', down: true },
    { qcode: 'a', down: true },
    { qcode: 'a', down: false },
    { qcode: 'shift', down: false },
  ],
};
const keysReply: KeyInputReply = { guest: 'web-1', route: 'secure', connection_id: connectionId, seq: 13, keys: 4 };

export const INPUT_EXAMPLES = {
  'input-event': {
    good: inputEvent,
    bad: [
      ...envelopeBadExamples(inputEvent),
      { why: 'an unknown event kind', value: withField(inputEvent, '/event', 'typed'), path: '/event' },
      { why: 'a free-text field that could carry input', value: withField(inputEvent, '/text', 'hunter2'), path: '/text' },
      { why: 'an error with a message (codes only)', value: withField(failedEvent, '/error/message', 'hunter2'), path: '/error/message' },
      { why: 'an error code outside the catalogue form', value: withField(failedEvent, '/error/code', 'hunter2'), path: '/error/code' },
      {
        why: 'a server origin with a path',
        value: withField(inputEvent, '/server_origin', 'https://bank.example/p?q=secret'),
        path: '/server_origin',
      },
      { why: 'negative count', value: withField(inputEvent, '/keys', -1), path: '/keys' },
      { why: 'connection id is not a UUID', value: withField(inputEvent, '/connection_id', 'c1'), path: '/connection_id' },
    ],
  },
  'secure-input-batch': {
    good: batch,
    bad: [
      { why: 'no records', value: withField(batch, '/records', []), path: '/records' },
      { why: 'sequence 0', value: withField(batch, '/records/0/seq', 0), path: '/records/0/seq' },
      { why: 'ciphertext is not base64url', value: withField(batch, '/records/0/ct', 'not base64!'), path: '/records/0/ct' },
      { why: 'unknown protocol version', value: withField(batch, '/version', 2), path: '/version' },
      { why: 'enc is missing', value: withoutField(batch, '/enc'), path: '/enc' },
      { why: 'a plaintext field', value: withField(batch, '/records/0/plaintext', 'a'), path: '/records/0/plaintext' },
    ],
  },
  'secure-input-ack': {
    good: ack,
    bad: [
      { why: 'negative acked sequence', value: withField(ack, '/acked_seq', -1), path: '/acked_seq' },
      { why: 'connection id missing', value: withoutField(ack, '/connection_id'), path: '/connection_id' },
      { why: 'an unknown property', value: withField(ack, '/extra', 1), path: '/extra' },
    ],
  },
  'input-open-request': {
    good: open,
    bad: [
      { why: 'ttl of zero', value: withField(open, '/ttl_s', 0), path: '/ttl_s' },
      { why: 'ttl over a day', value: withField(open, '/ttl_s', 86_401), path: '/ttl_s' },
      { why: 'suite without an AEAD', value: withoutField(open, '/suite/aead'), path: '/suite/aead' },
      { why: 'empty key', value: withField(open, '/server_public_key', ''), path: '/server_public_key' },
      { why: 'application with a space', value: withField(open, '/application', 'bank app'), path: '/application' },
      { why: 'an unknown property', value: withField(open, '/private_key', 'x'), path: '/private_key' },
    ],
  },
  'input-close-request': {
    good: close,
    bad: [
      { why: 'connection id missing', value: {}, path: '/connection_id' },
      { why: 'connection id is not a UUID', value: { connection_id: 'c1' }, path: '/connection_id' },
      { why: 'an unknown property', value: { ...close, reason: 'x' }, path: '/reason' },
    ],
  },
  'input-focus-request': {
    good: focus,
    bad: [
      { why: 'connection id missing (null releases)', value: { guest: 'web-1' }, path: '/connection_id' },
      { why: 'guest is empty', value: withField(focus, '/guest', ''), path: '/guest' },
      { why: 'connection id is a number', value: withField(focus, '/connection_id', 1), path: '/connection_id' },
    ],
  },
  'input-status-request': {
    good: statusRequest,
    bad: [
      { why: 'guest is empty', value: { guest: '' }, path: '/guest' },
      { why: 'guest is a number', value: { guest: 1 }, path: '/guest' },
      { why: 'an unknown property', value: { all: true }, path: '/all' },
    ],
  },
  'input-status-reply': {
    good: statusReply,
    bad: [
      { why: 'guests missing', value: withoutField(statusReply, '/guests'), path: '/guests' },
      { why: 'unknown connection state', value: withField(statusReply, '/connections/0/state', 'open'), path: '/connections/0/state' },
      { why: 'refusing is missing', value: withoutField(statusReply, '/guests/0/refusing'), path: '/guests/0/refusing' },
    ],
  },
  'input-identity-reply': {
    good: identity,
    bad: [
      { why: 'key id too short', value: withField(identity, '/key_id', 'abc'), path: '/key_id' },
      { why: 'public key not base64url', value: withField(identity, '/public_key', 'a+b/'), path: '/public_key' },
      { why: 'a private key field', value: withField(identity, '/private_key', 'x'), path: '/private_key' },
    ],
  },
  'input-attach-request': {
    good: attach,
    bad: [
      { why: 'socket path missing', value: { guest: 'web-1' }, path: '/qmp_socket' },
      { why: 'socket path empty', value: withField(attach, '/qmp_socket', ''), path: '/qmp_socket' },
      { why: 'guest missing', value: { qmp_socket: '/x' }, path: '/guest' },
    ],
  },
  'input-detach-request': {
    good: detach,
    bad: [
      { why: 'guest missing', value: {}, path: '/guest' },
      { why: 'guest is empty', value: { guest: '' }, path: '/guest' },
      { why: 'an unknown property', value: { ...detach, force: true }, path: '/force' },
    ],
  },
  'input-control-error': {
    good: controlError,
    bad: [
      { why: 'code outside the catalogue form', value: withField(controlError, '/error/code', 'oops'), path: '/error/code' },
      { why: 'message too long', value: withField(controlError, '/error/message', 'x'.repeat(501)), path: '/error/message' },
      { why: 'status missing', value: withoutField(controlError, '/error/status'), path: '/error/status' },
    ],
  },
  'input-connection-info': {
    good: info,
    bad: [
      { why: 'unknown state', value: withField(info, '/state', 'open'), path: '/state' },
      { why: 'gateway key id not hex', value: withField(info, '/gateway_key_id', 'zzzzzzzzzzzzzzzz'), path: '/gateway_key_id' },
      { why: 'negative pending', value: withField(info, '/pending', -1), path: '/pending' },
    ],
  },
  'key-input-request': {
    good: keys,
    bad: [
      { why: 'no keys', value: { keys: [] }, path: '/keys' },
      { why: 'empty text', value: { text: '' }, path: '/keys' },
      { why: 'both keys and text', value: { ...keys, text: 'a' }, path: '/text' },
      { why: 'a key event without a boolean state', value: { keys: [{ qcode: 'a', down: 'yes' }] }, path: '/keys/0/down' },
    ],
  },
  'key-input-reply': {
    good: keysReply,
    bad: [
      { why: 'unknown route', value: withField(keysReply, '/route', 'server'), path: '/route' },
      { why: 'negative key count', value: withField(keysReply, '/keys', -1), path: '/keys' },
      { why: 'seq missing', value: withoutField(keysReply, '/seq'), path: '/seq' },
    ],
  },
} satisfies {
  'input-event': SchemaExamples<'input-event'>;
  'secure-input-batch': SchemaExamples<'secure-input-batch'>;
  'secure-input-ack': SchemaExamples<'secure-input-ack'>;
  'input-open-request': SchemaExamples<'input-open-request'>;
  'input-close-request': SchemaExamples<'input-close-request'>;
  'input-focus-request': SchemaExamples<'input-focus-request'>;
  'input-status-request': SchemaExamples<'input-status-request'>;
  'input-status-reply': SchemaExamples<'input-status-reply'>;
  'input-identity-reply': SchemaExamples<'input-identity-reply'>;
  'input-attach-request': SchemaExamples<'input-attach-request'>;
  'input-detach-request': SchemaExamples<'input-detach-request'>;
  'input-control-error': SchemaExamples<'input-control-error'>;
  'input-connection-info': SchemaExamples<'input-connection-info'>;
  'key-input-request': SchemaExamples<'key-input-request'>;
  'key-input-reply': SchemaExamples<'key-input-reply'>;
};
