import Type, { type TProperties } from 'typebox';

/** Every message's schema version; bump on an incompatible change and keep reading the old one. */
export const SCHEMA_VERSION = 1 as const;

export const MessageId = Type.String({
  format: 'uuid',
  description: 'Time-ordered message id (UUIDv7); also the JetStream Nats-Msg-Id',
});
export const Timestamp = Type.String({ format: 'date-time', description: 'RFC 3339 time with milliseconds, UTC' });
/** A host or guest name as operators write it; subjects use its slug. */
export const Name = Type.String({ minLength: 1, maxLength: 253, pattern: '^[^\\u0000-\\u001f\\u007f]+$' });
export const RuleName = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9_.:-]*$' });
/** A 64-bit address or value as lower-case hex with `0x` (JSON numbers cannot hold 64 bits). */
export const Hex64 = Type.String({ pattern: '^0x[0-9a-f]{1,16}$', description: '64-bit value, lower-case hex' });
/** Raw bytes as lower-case hex, at most one page. */
export const HexBytes = Type.String({ pattern: '^([0-9a-f]{2})*$', maxLength: 8192, description: 'bytes as lower-case hex' });
export const Sha256Hex = Type.String({ pattern: '^[0-9a-f]{64}$' });
export const Uint = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER });

export const Severity = Type.Union(
  [Type.Literal('info'), Type.Literal('low'), Type.Literal('medium'), Type.Literal('high'), Type.Literal('critical')],
  { description: 'Platform severity; maps to OCSF severity_id' },
);
export const Mode = Type.Union([Type.Literal('monitor'), Type.Literal('enforce')]);
/** Which trap mechanism saw a write. */
export const Mechanism = Type.Union([Type.Literal('watchpoint'), Type.Literal('uffd-wp')]);
/** Which guard protected a copy. */
export const Guard = Type.Union([Type.Literal('rtm'), Type.Literal('trap'), Type.Literal('pause'), Type.Literal('none')]);

/**
 * The fields every message carries, then its own. `type` names the message so a consumer of a mixed
 * stream can dispatch; `version` is {@link SCHEMA_VERSION}.
 */
export function message<const K extends string, P extends TProperties>(type: K, properties: P, description: string) {
  return Type.Object(
    {
      id: MessageId,
      time: Timestamp,
      version: Type.Literal(SCHEMA_VERSION),
      type: Type.Literal(type),
      host: Name,
      guest: Name,
      ...properties,
    },
    { $id: type, title: type, description, additionalProperties: false },
  );
}
