import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';

/** What the first row of the chain links to. */
export const GENESIS_HASH = '0'.repeat(64);

/** Every stored field a row's hash covers: change any of them and the chain breaks there. */
export interface ChainedContent {
  readonly seq: number;
  readonly id: string;
  readonly stream: string;
  readonly subject: string;
  readonly type: string;
  readonly host: string | null;
  readonly guest: string | null;
  readonly time: Date;
  readonly severity: string | null;
  readonly rule: string | null;
  readonly body: unknown;
}

/** sha256 over the previous row's hash and this row's canonical content, lower-case hex. */
export function rowHash(prevHash: string, row: ChainedContent): string {
  const content = canonicalJson({
    seq: row.seq,
    id: row.id,
    stream: row.stream,
    subject: row.subject,
    type: row.type,
    host: row.host,
    guest: row.guest,
    time: row.time.toISOString(),
    severity: row.severity,
    rule: row.rule,
    body: row.body,
  });
  return createHash('sha256').update(prevHash).update('\n').update(content).digest('hex');
}
