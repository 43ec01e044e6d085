import Type, { type Static } from 'typebox';
import { message, Name, Timestamp, Uint } from './common.js';

/**
 * Secure input: the input gateway's events (`vmi.input.<guest>.<event>`), its control service
 * (`vmi.ctl.input`), its local key endpoint, and the record batches it delivers to an application's
 * server over TLS.
 *
 * No field here can hold plaintext input or key material: events carry ids, counts, sequence
 * numbers and timings; errors carry codes only; records carry ciphertext; public keys are public.
 * The one exception is the local key endpoint's request ({@link KeyInputRequest}), which is the
 * plaintext's way in and never leaves the host's loopback interface.
 */

export const ConnectionId = Type.String({ format: 'uuid', description: 'A security connection (UUIDv7)' });
/** The application inside the guest a connection belongs to, as its server names it. */
export const ApplicationName = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]*$' });
/** RFC 4648 base64url without padding. */
export const Base64Url = Type.String({ pattern: '^[A-Za-z0-9_-]*$' });
/** A stable error code from the catalogue, never a free-text message (messages could echo input). */
export const ErrorCode = Type.String({ pattern: '^VMI_ERR_[A-Z0-9_]+$', maxLength: 96 });

/**
 * An HPKE (RFC 9180) cipher suite by name. The request schema accepts any short name so that an
 * unknown one is answered with `VMI_ERR_INPUT_UNSUPPORTED_ALGORITHM`, not a generic validation error.
 */
export const CipherSuiteName = Type.Object(
  {
    kem: Type.String({ minLength: 1, maxLength: 64, description: 'e.g. DHKEM-X25519-HKDF-SHA256' }),
    kdf: Type.String({ minLength: 1, maxLength: 64, description: 'e.g. HKDF-SHA256' }),
    aead: Type.String({ minLength: 1, maxLength: 64, description: 'e.g. AES-256-GCM' }),
  },
  { additionalProperties: false },
);
export type CipherSuiteName = Static<typeof CipherSuiteName>;

export const ConnectionState = Type.Union([Type.Literal('active'), Type.Literal('closed'), Type.Literal('expired')]);
export type ConnectionState = Static<typeof ConnectionState>;

export const InputEventKind = Type.Union([
  Type.Literal('opened'),
  Type.Literal('forwarded'),
  Type.Literal('failed'),
  Type.Literal('closed'),
]);
export type InputEventKind = Static<typeof InputEventKind>;

export const CloseReason = Type.Union([
  Type.Literal('requested'),
  Type.Literal('expired'),
  Type.Literal('shutdown'),
  Type.Literal('guest-detached'),
]);
export type CloseReason = Static<typeof CloseReason>;

/** Delivery timing over a window of records, in milliseconds from the key event to the server's ack. */
export const DeliveryTiming = Type.Object(
  { p50_ms: Type.Number({ minimum: 0 }), max_ms: Type.Number({ minimum: 0 }) },
  { additionalProperties: false },
);

export const InputEvent = message(
  'input',
  {
    event: InputEventKind,
    connection_id: ConnectionId,
    application: ApplicationName,
    /** Scheme, host and port of the application's server (no path, no query). */
    server_origin: Type.String({ minLength: 1, maxLength: 300, pattern: '^https://[A-Za-z0-9.:\\[\\]-]+$' }),
    /** Records (one per key request) and key events this event reports on. */
    records: Uint,
    keys: Uint,
    /** Sequence numbers covered by this event (0 when none). */
    first_seq: Uint,
    last_seq: Uint,
    /** The highest sequence the server acknowledged so far, and how many records still wait. */
    acked_seq: Uint,
    pending: Uint,
    /** Delivery attempts behind this event (failed: attempts so far in this outage). */
    attempts: Uint,
    timing: Type.Union([DeliveryTiming, Type.Null()]),
    error: Type.Union([Type.Object({ code: ErrorCode, status: Uint }, { additionalProperties: false }), Type.Null()]),
    reason: Type.Union([CloseReason, Type.Null()]),
    expires_at: Timestamp,
  },
  'A security connection opened, delivered records, failed to deliver, or closed; never plaintext or keys',
);
export type InputEvent = Static<typeof InputEvent>;

/** One connection as the control API reports it. */
export const ConnectionInfo = Type.Object(
  {
    connection_id: ConnectionId,
    guest: Name,
    application: ApplicationName,
    server_origin: Type.String({ maxLength: 300 }),
    suite: CipherSuiteName,
    state: ConnectionState,
    focused: Type.Boolean(),
    opened_at: Timestamp,
    expires_at: Timestamp,
    /** Sequence of the last record sealed, and of the last one the server acknowledged. */
    sealed_seq: Uint,
    acked_seq: Uint,
    pending: Uint,
    gateway_key_id: Type.String({ pattern: '^[0-9a-f]{16}$' }),
  },
  { additionalProperties: false },
);
export type ConnectionInfo = Static<typeof ConnectionInfo>;

export const InputOpenRequest = Type.Object(
  {
    guest: Name,
    application: ApplicationName,
    /** The server's record endpoint; must be https. */
    endpoint: Type.String({ minLength: 1, maxLength: 2048 }),
    /** The server's pinned HPKE public key (raw, base64url); checked by the gateway, not the schema. */
    server_public_key: Type.String({ minLength: 1, maxLength: 512 }),
    suite: CipherSuiteName,
    ttl_s: Type.Integer({ minimum: 1, maximum: 86_400 }),
    /** PEM of the CA that must have issued the server's certificate (pinned for this connection). */
    tls_ca_pem: Type.Optional(Type.String({ minLength: 1, maxLength: 65_536 })),
    /** Route the guest's keys into this connection at once. */
    focus: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type InputOpenRequest = Static<typeof InputOpenRequest>;

export const InputCloseRequest = Type.Object({ connection_id: ConnectionId }, { additionalProperties: false });
export type InputCloseRequest = Static<typeof InputCloseRequest>;

/** Routes a guest's keys into a connection, or (null) back to the guest in clear. */
export const InputFocusRequest = Type.Object(
  { guest: Name, connection_id: Type.Union([ConnectionId, Type.Null()]) },
  { additionalProperties: false },
);
export type InputFocusRequest = Static<typeof InputFocusRequest>;

export const InputStatusRequest = Type.Object({ guest: Type.Optional(Name) }, { additionalProperties: false });
export type InputStatusRequest = Static<typeof InputStatusRequest>;

export const InputGuestStatus = Type.Object(
  {
    guest: Name,
    /** The connection the guest's keys go to, null when they pass through in clear. */
    focused: Type.Union([ConnectionId, Type.Null()]),
    /** True when the focused connection ended and keys are refused until focus is released. */
    refusing: Type.Boolean(),
  },
  { additionalProperties: false },
);

export const InputStatusReply = Type.Object(
  {
    guests: Type.Array(InputGuestStatus, { maxItems: 10_000 }),
    connections: Type.Array(ConnectionInfo, { maxItems: 10_000 }),
  },
  { additionalProperties: false },
);
export type InputStatusReply = Static<typeof InputStatusReply>;

/** The gateway's static HPKE key: servers pin it to authenticate the records (HPKE Auth mode). */
export const InputIdentityReply = Type.Object(
  {
    key_id: Type.String({ pattern: '^[0-9a-f]{16}$' }),
    public_key: Base64Url,
    kem: Type.String({ maxLength: 64 }),
  },
  { additionalProperties: false },
);
export type InputIdentityReply = Static<typeof InputIdentityReply>;

/** Tells the gateway where a guest's keyboard is (a QMP monitor socket of its own). */
export const InputAttachRequest = Type.Object(
  { guest: Name, qmp_socket: Type.String({ minLength: 1, maxLength: 4096 }) },
  { additionalProperties: false },
);
export type InputAttachRequest = Static<typeof InputAttachRequest>;

export const InputDetachRequest = Type.Object({ guest: Name }, { additionalProperties: false });
export type InputDetachRequest = Static<typeof InputDetachRequest>;

/** A control reply that failed: the stable code and a message that never echoes input. */
export const InputControlError = Type.Object(
  { error: Type.Object({ code: ErrorCode, message: Type.String({ maxLength: 500 }), status: Uint }, { additionalProperties: false }) },
  { additionalProperties: false },
);
export type InputControlError = Static<typeof InputControlError>;

/** One key event as a console delivers it: a QEMU `QKeyCode` name and whether it went down or up. */
export const KeyEvent = Type.Object(
  { qcode: Type.String({ minLength: 1, maxLength: 32 }), down: Type.Boolean() },
  { additionalProperties: false },
);
export type KeyEvent = Static<typeof KeyEvent>;

/**
 * The local key endpoint's request: key events, or text the gateway expands into them (US layout).
 * This is plaintext; it is accepted on loopback only and never forwarded anywhere in this form.
 */
export const KeyInputRequest = Type.Union([
  Type.Object({ keys: Type.Array(KeyEvent, { minItems: 1, maxItems: 512 }) }, { additionalProperties: false }),
  Type.Object({ text: Type.String({ minLength: 1, maxLength: 4096 }) }, { additionalProperties: false }),
]);
export type KeyInputRequest = Static<typeof KeyInputRequest>;

export const KeyInputReply = Type.Object(
  {
    guest: Name,
    route: Type.Union([Type.Literal('secure'), Type.Literal('guest')]),
    connection_id: Type.Union([ConnectionId, Type.Null()]),
    /** The record the keys were sealed into (secure route), null otherwise. */
    seq: Type.Union([Uint, Type.Null()]),
    keys: Uint,
  },
  { additionalProperties: false },
);
export type KeyInputReply = Static<typeof KeyInputReply>;

/** One sealed record: HPKE ciphertext of a key batch, its sequence number bound in the AAD. */
export const SealedRecord = Type.Object(
  {
    seq: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    ct: Type.String({ pattern: '^[A-Za-z0-9_-]+$', maxLength: 65_536 }),
  },
  { additionalProperties: false },
);
export type SealedRecord = Static<typeof SealedRecord>;

/** What the gateway POSTs to an application's server: ordered records of one connection. */
export const SecureInputBatch = Type.Object(
  {
    version: Type.Literal(1),
    connection_id: ConnectionId,
    application: ApplicationName,
    suite: CipherSuiteName,
    /** Which pinned gateway key sealed this (first 8 bytes of the SHA-256 of its raw public key). */
    sender_key_id: Type.String({ pattern: '^[0-9a-f]{16}$' }),
    /** HPKE encapsulated key (public, base64url). */
    enc: Type.String({ pattern: '^[A-Za-z0-9_-]+$', maxLength: 256 }),
    records: Type.Array(SealedRecord, { minItems: 1, maxItems: 1024 }),
  },
  { $id: 'secure-input-batch', title: 'secure-input-batch', additionalProperties: false },
);
export type SecureInputBatch = Static<typeof SecureInputBatch>;

/** The server's answer: the highest sequence it accepted, so the gateway never sends a record twice. */
export const SecureInputAck = Type.Object(
  {
    connection_id: ConnectionId,
    acked_seq: Uint,
    accepted: Uint,
    /** Records in the batch at or below a sequence already accepted: dropped, never delivered twice. */
    replayed: Uint,
  },
  { $id: 'secure-input-ack', title: 'secure-input-ack', additionalProperties: false },
);
export type SecureInputAck = Static<typeof SecureInputAck>;
