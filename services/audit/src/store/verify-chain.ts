import type { AuditChainBreak, AuditChainVerifyReply } from '@vmi/contracts';
import { and, asc, desc, eq, gte, lte } from 'drizzle-orm';
import { contentHash, GENESIS_HASH, rowHash } from '../chain/row-hash.js';
import type { AuditDb } from '../db/open.js';
import { chainCheckpoints, chainHead, type EventRow, events } from '../db/schema.js';

export interface VerifyRange {
  readonly fromSeq?: number | undefined;
  readonly toSeq?: number | undefined;
}

/** Rows read per round trip while walking the chain. */
const PAGE = 2000;

/**
 * Walks the chain in sequence order over the range and reports the first row that does not hold:
 * its content no longer matches its hash, it does not link to the row before, rows are missing,
 * or the last row is not the recorded head. Rows removed by retention are not needed: the walk
 * starts from the checkpoint recorded when they went. Runs in one repeatable-read snapshot, so a
 * concurrent append or retention run cannot make a sound chain look broken.
 */
export function verifyChain(db: AuditDb, range: VerifyRange): Promise<AuditChainVerifyReply> {
  return db.transaction(
    async (tx) => {
      const [head] = await tx.select().from(chainHead).where(eq(chainHead.id, 1));
      const [checkpoint] = await tx.select().from(chainCheckpoints).orderBy(desc(chainCheckpoints.seq)).limit(1);
      const headSeq = head?.seq ?? 0;
      const floor = checkpoint === undefined ? 1 : checkpoint.seq + 1;
      const start = Math.max(range.fromSeq ?? floor, floor);
      const end = Math.min(range.toSeq ?? headSeq, headSeq);
      const reply = (checked: number, anchor: AuditChainVerifyReply['anchor'], broken: AuditChainBreak | null): AuditChainVerifyReply => ({
        ok: broken === null,
        checked,
        from_seq: start <= end ? start : null,
        to_seq: start <= end ? end : null,
        anchor,
        broken,
      });
      if (start > end) return reply(0, null, null);

      let anchor: AuditChainVerifyReply['anchor'];
      let prev: string;
      if (checkpoint !== undefined && start === checkpoint.seq + 1) {
        anchor = 'checkpoint';
        prev = checkpoint.rowHash;
      } else if (checkpoint === undefined && start === 1) {
        anchor = 'genesis';
        prev = GENESIS_HASH;
      } else {
        const [before] = await tx
          .select({ rowHash: events.rowHash })
          .from(events)
          .where(eq(events.seq, start - 1));
        if (before === undefined) {
          return reply(0, null, { seq: start, id: null, reason: 'anchor', expected: `row ${start - 1}`, actual: null });
        }
        anchor = 'row';
        prev = before.rowHash;
      }

      let expectedSeq = start;
      let checked = 0;
      let last: EventRow | undefined;
      while (expectedSeq <= end) {
        const rows = await tx
          .select()
          .from(events)
          .where(and(gte(events.seq, expectedSeq), lte(events.seq, end)))
          .orderBy(asc(events.seq))
          .limit(PAGE);
        if (rows.length === 0) break;
        for (const row of rows) {
          const broken = checkRow(row, expectedSeq, prev);
          if (broken !== null) return reply(checked, anchor, broken);
          checked += 1;
          prev = row.rowHash;
          expectedSeq = row.seq + 1;
          last = row;
        }
      }
      if (expectedSeq <= end) {
        return reply(checked, anchor, { seq: expectedSeq, id: null, reason: 'gap', expected: String(expectedSeq), actual: null });
      }
      if (end === headSeq && head !== undefined && last !== undefined && last.rowHash !== head.rowHash) {
        return reply(checked, anchor, { seq: last.seq, id: last.id, reason: 'head', expected: head.rowHash, actual: last.rowHash });
      }
      return reply(checked, anchor, null);
    },
    { isolationLevel: 'repeatable read', accessMode: 'read only' },
  );
}

function checkRow(row: EventRow, expectedSeq: number, prev: string): AuditChainBreak | null {
  if (row.seq !== expectedSeq) {
    return { seq: expectedSeq, id: null, reason: 'gap', expected: String(expectedSeq), actual: String(row.seq) };
  }
  const recomputed = rowHash(row.prevHash, row.seq, contentHash(row));
  if (recomputed !== row.rowHash) return { seq: row.seq, id: row.id, reason: 'row-hash', expected: recomputed, actual: row.rowHash };
  if (row.prevHash !== prev) return { seq: row.seq, id: row.id, reason: 'link', expected: prev, actual: row.prevHash };
  return null;
}
