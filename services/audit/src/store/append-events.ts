import { AuditErrors, VmiError } from '@vmi/contracts';
import { eq, inArray } from 'drizzle-orm';
import { rowHash } from '../chain/row-hash.js';
import type { AuditDb } from '../db/open.js';
import { chainHead, events, type NewEventRow } from '../db/schema.js';

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
}

export interface AppendResult {
  readonly inserted: number;
  /** Already stored (a redelivery) or repeated inside the batch: skipped, not chained. */
  readonly duplicates: number;
  readonly headSeq: number;
}

/** Rows per INSERT statement: well under Postgres' 65,535 bind parameters at 14 columns. */
const INSERT_CHUNK = 2000;

/**
 * The only writer of the hash chain. Batches append in one transaction that locks the chain head
 * row, so the chain stays linear even with several writer processes; within a process, batches
 * queue here so they do not contend for that lock.
 */
export class ChainWriter {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly db: AuditDb) {}

  append(batch: readonly IncomingEvent[]): Promise<AppendResult> {
    const run = this.tail.then(() => this.appendNow(batch));
    this.tail = run.catch(() => undefined);
    return run;
  }

  private appendNow(batch: readonly IncomingEvent[]): Promise<AppendResult> {
    return this.db.transaction(async (tx) => {
      const [head] = await tx.select().from(chainHead).where(eq(chainHead.id, 1)).for('update');
      if (head === undefined) throw new VmiError(AuditErrors.DATABASE, 'chain head row is missing; migrations not applied');
      const unique = new Map<string, IncomingEvent>();
      for (const e of batch) if (!unique.has(e.id)) unique.set(e.id, e);
      const ids = [...unique.keys()];
      if (ids.length > 0) {
        const stored = await tx.select({ id: events.id }).from(events).where(inArray(events.id, ids));
        for (const { id } of stored) unique.delete(id);
      }
      if (unique.size === 0) return { inserted: 0, duplicates: batch.length, headSeq: head.seq };

      let seq = head.seq;
      let prev = head.rowHash;
      const rows: NewEventRow[] = [];
      for (const e of unique.values()) {
        seq += 1;
        const content = { ...e, seq };
        const hash = rowHash(prev, content);
        rows.push({ ...content, prevHash: prev, rowHash: hash });
        prev = hash;
      }
      for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
        await tx.insert(events).values(rows.slice(i, i + INSERT_CHUNK));
      }
      await tx.update(chainHead).set({ seq, rowHash: prev }).where(eq(chainHead.id, 1));
      return { inserted: rows.length, duplicates: batch.length - rows.length, headSeq: seq };
    });
  }
}
