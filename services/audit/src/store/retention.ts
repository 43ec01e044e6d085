import { asc, lte } from 'drizzle-orm';
import type { AuditDb } from '../db/open.js';
import { chainCheckpoints, events } from '../db/schema.js';

export interface RetentionResult {
  readonly cutoff: Date;
  readonly removed: number;
  /** The checkpoint written by the last chunk removed; null when nothing was old enough. */
  readonly checkpoint: { seq: number; rowHash: string; createdAt: Date } | null;
}

/** Rows examined and removed per transaction, so one run never holds a huge one. */
const CHUNK = 5000;

/**
 * Removes events older than `cutoff`, only ever as a prefix of the chain (in sequence order): an
 * old row after a newer one waits until the rows before it go too. Each chunk records, in the
 * same transaction as the delete, a checkpoint with the hash of the last row removed, so what
 * remains still verifies from that hash.
 */
export async function runRetention(db: AuditDb, cutoff: Date): Promise<RetentionResult> {
  let removed = 0;
  let checkpoint: RetentionResult['checkpoint'] = null;
  for (;;) {
    const outcome = await db.transaction(async (tx) => {
      const oldest = await tx
        .select({ seq: events.seq, time: events.time, rowHash: events.rowHash })
        .from(events)
        .orderBy(asc(events.seq))
        .limit(CHUNK)
        .for('update');
      let lastOld: (typeof oldest)[number] | undefined;
      let reachedNew = false;
      for (const row of oldest) {
        if (row.time.getTime() >= cutoff.getTime()) {
          reachedNew = true;
          break;
        }
        lastOld = row;
      }
      if (lastOld === undefined) return { done: true, count: 0, checkpoint: null };
      const deleted = await tx.delete(events).where(lte(events.seq, lastOld.seq)).returning({ seq: events.seq });
      const [written] = await tx
        .insert(chainCheckpoints)
        .values({ seq: lastOld.seq, rowHash: lastOld.rowHash, removed: deleted.length })
        .returning({ seq: chainCheckpoints.seq, rowHash: chainCheckpoints.rowHash, createdAt: chainCheckpoints.createdAt });
      return { done: reachedNew || oldest.length < CHUNK, count: deleted.length, checkpoint: written ?? null };
    });
    removed += outcome.count;
    if (outcome.checkpoint !== null) checkpoint = outcome.checkpoint;
    if (outcome.done) break;
  }
  return { cutoff, removed, checkpoint };
}
