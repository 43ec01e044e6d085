import type { StreamKey } from '@vmi/contracts';
import Type, { type Static } from 'typebox';

/** Streams the audit trail records: every event stream, and the dead letters of all services. */
export const AUDITED_STREAMS = [
  'traps',
  'trapSummaries',
  'findings',
  'agent',
  'input',
  'isolation',
  'verdicts',
  'deadLetters',
] as const satisfies readonly StreamKey[];

const StreamKeyName = Type.Union(AUDITED_STREAMS.map((k) => Type.Literal(k)));

/** The audit service's own settings, read from the environment beside the shared ones. */
export const AuditConfig = Type.Object({
  /** Postgres URL; embedded PGlite in AUDIT_DATA_DIR when unset. */
  databaseUrl: Type.Optional(Type.String({ minLength: 1 })),
  auditDataDir: Type.String({
    minLength: 1,
    default: 'audit-data',
    description: 'PGlite data directory (relative to the working directory)',
  }),
  auditHttpHost: Type.String({ minLength: 1, default: '127.0.0.1' }),
  auditHttpPort: Type.Integer({ minimum: 0, maximum: 65_535, default: 8080 }),
  /** `read:<token>` or `admin:<token>` entries, comma-separated. */
  auditTokens: Type.Array(Type.String({ minLength: 6, maxLength: 1100 }), { default: [] }),
  auditStreams: Type.Array(StreamKeyName, { minItems: 1, default: [...AUDITED_STREAMS] }),
  /** Messages per committed batch, per stream. */
  auditBatchSize: Type.Integer({ minimum: 1, maximum: 5000, default: 1000 }),
  /** Unacknowledged messages JetStream lets each consumer hold: the back-pressure bound. */
  auditMaxAckPending: Type.Integer({ minimum: 1, maximum: 100_000, default: 5000 }),
  /** Pull loops per stream; one already prepares the next batch while the current one commits. */
  auditConsumersPerStream: Type.Integer({ minimum: 1, maximum: 8, default: 1 }),
  auditDbPoolSize: Type.Integer({ minimum: 1, maximum: 64, default: 4 }),
  /** Events older than this are removed (0 keeps everything). */
  auditRetentionMaxAgeS: Type.Integer({ minimum: 0, default: 0 }),
  auditRetentionIntervalS: Type.Integer({ minimum: 1, default: 3600 }),
});
export type AuditConfig = Static<typeof AuditConfig>;
