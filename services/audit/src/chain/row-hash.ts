import { hash } from 'node:crypto';
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
  /** Read only when the caller does not give the body's canonical JSON. */
  readonly body?: unknown;
}

/**
 * Hex sha256 of the text's UTF-8 bytes. The one-shot form: a Hash object per call costs several
 * times the hashing itself at these sizes, and ingest hashes twice per stored message.
 */
const sha256 = (text: string) => hash('sha256', text, 'hex');

/**
 * sha256 over a row's canonical envelope and canonical body. It does not depend on the chain, so
 * it is computed before the writer takes the chain lock; `bodyJson` is the body's canonical JSON
 * when the caller has it already (the writer stores that same text).
 */
export function contentHash(row: ChainedContent, bodyJson: string = canonicalJson(row.body)): string {
  return sha256(`${canonicalEnvelope(row)}\n${bodyJson}`);
}

/**
 * The canonical JSON of the envelope fields (keys in sorted order, every one present), written
 * out directly: the same text as `canonicalJson` of that object, without building it first.
 */
export function canonicalEnvelope(row: ChainedContent): string {
  const s = JSON.stringify;
  return (
    `{"guest":${s(row.guest)},"host":${s(row.host)},"id":${s(row.id)},"rule":${s(row.rule)},"severity":${s(row.severity)},` +
    `"stream":${s(row.stream)},"subject":${s(row.subject)},"time":${s(row.time.toISOString())},"type":${s(row.type)}}`
  );
}

/** The chain link: sha256 over the previous row's hash, this row's sequence number and content hash. */
export function rowHash(prevHash: string, seq: number, content: string): string {
  return sha256(`${prevHash}\n${seq}\n${content}`);
}
