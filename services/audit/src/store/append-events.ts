import { AuditErrors, VmiError } from '@vmi/contracts';
import { sql } from 'drizzle-orm';
import { canonicalJson } from '../chain/canonical-json.js';
import { contentHash, rowHash } from '../chain/row-hash.js';
import type { AuditDb } from '../db/open.js';
import { type FullEventRow, insertEventRows, type SqlRunner } from './insert-events.js';

/** One message ready to store: its envelope as the API filters it, and the validated body. */
export interface IncomingEvent {
  readonly id: string;
  /** Stream key (`traps`, `findings`, ...). */
  readonly stream: string;
  readonly subject: string;
  readonly type: string;
  readonly host: string | null;
  readonly guest: string | null;
  readonly time: Date;
  readonly severity: string | null;
  readonly rule: string | null;
  readonly body: unknown;
  /** The body's canonical JSON and the content hash, when computed ahead (see {@link prepareEvent}). */
  readonly bodyJson?: string;
  readonly contentHash?: string;
}

export interface AppendResult {
  readonly inserted: number;
  /** Already stored (a redelivery) or repeated inside the batch: skipped, not chained. */
  readonly duplicates: number;
  readonly headSeq: number;
}

/**
 * Serialises the body and hashes the content: the costly part of chaining, done before the writer
 * takes the chain lock (while another batch commits).
 */
export function prepareEvent(e: IncomingEvent): IncomingEvent & { bodyJson: string; contentHash: string } {
  const bodyJson = e.bodyJson ?? canonicalJson(e.body);
  return { ...e, bodyJson, contentHash: e.contentHash ?? contentHash(e, bodyJson) };
}

/** An id of the batch was stored by someone else after the check: the transaction is retried. */
class StoredMeanwhile extends Error {}

const ATTEMPTS = 3;

/**
 * The only writer of the hash chain. A batch appends in one transaction that locks the chain head
 * row, so the chain stays linear even with several writer processes; within a process, batches
 * queue here so they do not contend for that lock. Ids already stored are left out before the
 * chain is computed, so a redelivery is neither stored twice nor chained.
 */
export class ChainWriter {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly db: AuditDb) {}

  append(batch: readonly IncomingEvent[]): Promise<AppendResult> {
    const prepared = batch.map(prepareEvent);
    const run = this.tail.then(() => this.appendNow(prepared));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async appendNow(batch: readonly ReturnType<typeof prepareEvent>[]): Promise<AppendResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db.transaction((tx) => this.appendIn(tx, batch));
      } catch (err) {
        if (!(err instanceof StoredMeanwhile) || attempt >= ATTEMPTS) throw err;
      }
    }
  }

  private async appendIn(tx: SqlRunner, batch: readonly ReturnType<typeof prepareEvent>[]): Promise<AppendResult> {
    const unique = new Map<string, ReturnType<typeof prepareEvent>>();
    for (const e of batch) if (!unique.has(e.id)) unique.set(e.id, e);
    // One round trip: lock the head and learn which ids are stored already.
    const locked = (await tx.execute(sql`
      select h.seq, h.row_hash,
        (select string_agg(e.id::text, ',') from audit_events e where e.id = any(${sql.param([...unique.keys()])}::uuid[])) as stored
      from audit_chain_head h where h.id = 1 for update of h`)) as { rows: { seq: unknown; row_hash: string; stored: string | null }[] };
    const head = locked.rows[0];
    if (head === undefined) throw new VmiError(AuditErrors.DATABASE, 'chain head row is missing; migrations not applied');
    for (const id of head.stored?.split(',') ?? []) unique.delete(id);

    let seq = Number(head.seq);
    let prev = head.row_hash;
    const rows: FullEventRow[] = [];
    for (const e of unique.values()) {
      seq += 1;
      const hash = rowHash(prev, seq, e.contentHash);
      rows.push({ ...e, seq, prevHash: prev, rowHash: hash });
      prev = hash;
    }
    if (rows.length > 0 && (await insertEventRows(tx, rows, { seq, rowHash: prev })) !== rows.length) throw new StoredMeanwhile();
    return { inserted: rows.length, duplicates: batch.length - rows.length, headSeq: seq };
  }
}
