import Type, { type Static } from 'typebox';
import { MessageId, Name, RuleName, Severity, Sha256Hex, Timestamp, Uint } from './common.js';

/**
 * The audit service's REST API: query strings, bodies and replies. These are API types, kept
 * apart from the wire messages the audit trail stores (those keep their own schemas).
 */

/** An opaque page cursor as the API hands it out (base64url). */
export const AuditCursor = Type.String({
  minLength: 1,
  maxLength: 512,
  pattern: '^[A-Za-z0-9_-]+$',
  description: 'Opaque cursor from next_cursor',
});
/** A message type token such as `trap`, `finding`, `deadletter`. */
export const AuditEventType = Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z0-9][a-z0-9_-]*$' });
export const AuditPageLimit = Type.Integer({ minimum: 1, maximum: 1000, description: 'Page size (default 100)' });

const filters = {
  from: Type.Optional(Type.String({ format: 'date-time', description: 'Inclusive lower bound on the event time' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'Exclusive upper bound on the event time' })),
  host: Type.Optional(Name),
  guest: Type.Optional(Name),
  severity: Type.Optional(Severity),
  rule: Type.Optional(RuleName),
};

export const AuditEventQuery = Type.Object(
  { ...filters, type: Type.Optional(AuditEventType), cursor: Type.Optional(AuditCursor), limit: Type.Optional(AuditPageLimit) },
  { title: 'audit-event-query', description: 'Filters and paging for GET /v1/events', additionalProperties: false },
);
export type AuditEventQuery = Static<typeof AuditEventQuery>;

export const AuditFindingQuery = Type.Object(
  { ...filters, cursor: Type.Optional(AuditCursor), limit: Type.Optional(AuditPageLimit) },
  { title: 'audit-finding-query', description: 'Filters and paging for GET /v1/findings', additionalProperties: false },
);
export type AuditFindingQuery = Static<typeof AuditFindingQuery>;

export const AuditIdParams = Type.Object({ id: MessageId }, { title: 'audit-id-params', additionalProperties: false });
export type AuditIdParams = Static<typeof AuditIdParams>;

/** One stored event: the indexed envelope, the chain fields and the message as received. */
export const AuditEventRecord = Type.Object(
  {
    id: MessageId,
    seq: Uint,
    stream: Type.String({ description: 'Stream key the message came from (traps, findings, ...)' }),
    subject: Type.String(),
    type: Type.String(),
    host: Type.Union([Type.String(), Type.Null()]),
    guest: Type.Union([Type.String(), Type.Null()]),
    time: Timestamp,
    severity: Type.Union([Type.String(), Type.Null()]),
    rule: Type.Union([Type.String(), Type.Null()]),
    ingested_at: Timestamp,
    prev_hash: Sha256Hex,
    row_hash: Sha256Hex,
    body: Type.Object({}, { additionalProperties: true, description: 'The message exactly as validated' }),
  },
  { title: 'audit-event-record', additionalProperties: false },
);
export type AuditEventRecord = Static<typeof AuditEventRecord>;

export const AuditEventPage = Type.Object(
  {
    items: Type.Array(AuditEventRecord),
    next_cursor: Type.Union([AuditCursor, Type.Null()], { description: 'Pass as `cursor` for the next page; null on the last' }),
  },
  { title: 'audit-event-page', description: 'Newest first', additionalProperties: false },
);
export type AuditEventPage = Static<typeof AuditEventPage>;

export const AuditBucket = Type.Union([Type.Literal('minute'), Type.Literal('hour'), Type.Literal('day')]);

export const AuditAggregateQuery = Type.Object(
  { ...filters, type: Type.Optional(AuditEventType), bucket: Type.Optional(AuditBucket) },
  {
    title: 'audit-aggregate-query',
    description: 'Counts by rule and severity per time bucket (type defaults to finding, bucket to hour)',
    additionalProperties: false,
  },
);
export type AuditAggregateQuery = Static<typeof AuditAggregateQuery>;

export const AuditAggregateReply = Type.Object(
  {
    bucket: AuditBucket,
    groups: Type.Array(
      Type.Object(
        {
          bucket_start: Timestamp,
          rule: Type.Union([Type.String(), Type.Null()]),
          severity: Type.Union([Type.String(), Type.Null()]),
          count: Uint,
        },
        { additionalProperties: false },
      ),
    ),
    /** True when more groups matched than one reply holds; narrow the range. */
    truncated: Type.Boolean(),
  },
  { title: 'audit-aggregate-reply', additionalProperties: false },
);
export type AuditAggregateReply = Static<typeof AuditAggregateReply>;

export const AuditChainVerifyRequest = Type.Object(
  {
    from_seq: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })),
    to_seq: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })),
  },
  {
    title: 'audit-chain-verify-request',
    description: 'Sequence range to verify; the whole stored chain when omitted',
    additionalProperties: false,
  },
);
export type AuditChainVerifyRequest = Static<typeof AuditChainVerifyRequest>;

export const AuditChainBreak = Type.Object(
  {
    seq: Uint,
    id: Type.Union([MessageId, Type.Null()]),
    /**
     * `row-hash`: the row's content no longer matches its hash; `link`: its prev_hash is not the
     * previous row's hash; `gap`: rows are missing before it; `anchor`: nothing to start from;
     * `head`: the last row is not the recorded chain head.
     */
    reason: Type.Union([Type.Literal('row-hash'), Type.Literal('link'), Type.Literal('gap'), Type.Literal('anchor'), Type.Literal('head')]),
    expected: Type.Union([Type.String(), Type.Null()]),
    actual: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);
export type AuditChainBreak = Static<typeof AuditChainBreak>;

export const AuditChainVerifyReply = Type.Object(
  {
    ok: Type.Boolean(),
    checked: Uint,
    from_seq: Type.Union([Uint, Type.Null()]),
    to_seq: Type.Union([Uint, Type.Null()]),
    /** What the first checked row was linked to: the genesis hash, the row before it, or a retention checkpoint. */
    anchor: Type.Union([Type.Literal('genesis'), Type.Literal('row'), Type.Literal('checkpoint'), Type.Null()]),
    broken: Type.Union([AuditChainBreak, Type.Null()]),
  },
  { title: 'audit-chain-verify-reply', additionalProperties: false },
);
export type AuditChainVerifyReply = Static<typeof AuditChainVerifyReply>;

export const AuditRetentionRequest = Type.Object(
  { max_age_s: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 * 365 * 86_400 })) },
  { title: 'audit-retention-request', description: 'Maximum age to keep; the configured one when omitted', additionalProperties: false },
);
export type AuditRetentionRequest = Static<typeof AuditRetentionRequest>;

export const AuditCheckpoint = Type.Object(
  { seq: Uint, row_hash: Sha256Hex, created_at: Timestamp },
  { additionalProperties: false, description: 'The hash of the last removed row, so verification can start after it' },
);

export const AuditRetentionReply = Type.Object(
  { cutoff: Timestamp, removed: Uint, checkpoint: Type.Union([AuditCheckpoint, Type.Null()]) },
  { title: 'audit-retention-reply', additionalProperties: false },
);
export type AuditRetentionReply = Static<typeof AuditRetentionReply>;

/** Every error reply: the VmiError wire form. */
export const AuditApiError = Type.Object(
  {
    code: Type.String(),
    message: Type.String(),
    status: Type.Integer(),
    path: Type.Optional(Type.String({ description: 'JSON pointer of the bad field, e.g. /querystring/limit' })),
    details: Type.Optional(Type.Object({}, { additionalProperties: true })),
  },
  { title: 'audit-api-error', additionalProperties: false },
);
export type AuditApiError = Static<typeof AuditApiError>;

export const AuditHealthReply = Type.Object(
  { status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]), checks: Type.Record(Type.String(), Type.Boolean()) },
  { title: 'audit-health-reply', additionalProperties: false },
);
export type AuditHealthReply = Static<typeof AuditHealthReply>;
