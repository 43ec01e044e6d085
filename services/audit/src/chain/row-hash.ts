import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';

/** What the first row of the chain links to. */
export const GENESIS_HASH = '0'.repeat(64);

/** Every stored field a row's hash covers, but its place in the chain. */
export interface ChainedContent {
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

const sha256 = () => createHash('sha256');

/**
 * sha256 over a row's canonical envelope and canonical body. It does not depend on the chain, so
 * it is computed before the writer takes the chain lock; `bodyJson` is the body's canonical JSON
 * when the caller has it already (the writer stores that same text).
 */
export function contentHash(row: ChainedContent, bodyJson: string = canonicalJson(row.body)): string {
  const envelope = canonicalJson({
    id: row.id,
    stream: row.stream,
    subject: row.subject,
    type: row.type,
    host: row.host,
    guest: row.guest,
    time: row.time.toISOString(),
    severity: row.severity,
    rule: row.rule,
  });
  return sha256().update(envelope).update('\n').update(bodyJson).digest('hex');
}

/** The chain link: sha256 over the previous row's hash, this row's sequence number and content hash. */
export function rowHash(prevHash: string, seq: number, content: string): string {
  return sha256().update(prevHash).update('\n').update(String(seq)).update('\n').update(content).digest('hex');
}
