import type { AuditEventRecord } from '@vmi/contracts';
import type { EventRow } from '../db/schema.js';

/** A stored row in API form: snake_case fields, ISO times. */
export function toEventRecord(row: EventRow): AuditEventRecord {
  return {
    id: row.id,
    seq: row.seq,
    stream: row.stream,
    subject: row.subject,
    type: row.type,
    host: row.host,
    guest: row.guest,
    time: row.time.toISOString(),
    severity: row.severity,
    rule: row.rule,
    ingested_at: row.ingestedAt.toISOString(),
    prev_hash: row.prevHash,
    row_hash: row.rowHash,
    body: row.body as Record<string, unknown>,
  };
}
