import { AuditErrors, VmiError } from '@vmi/contracts';
import { sql } from 'drizzle-orm';
import { canonicalJson } from '../chain/canonical-json.js';
import { contentHash, rowHash } from '../chain/row-hash.js';
import type { AuditDb } from '../db/open.js';
import { eventRowJson, insertLinkedRows, insertRowJson, jsonArray, type SqlRunner } from './insert-events.js';

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
  /** The validated message; only read when `bodyJson` is absent. */
  readonly body?: unknown;
  /** The body's canonical JSON (see `canonicalJson`), when the caller has it already. */
  readonly bodyJson?: string;
  /** Delivered before (the message may be stored already): the writer checks stored ids first. */
  readonly redelivered?: boolean;
}

export interface AppendResult {
  readonly inserted: number;
  /** Already stored (a redelivery) or repeated inside the batch: skipped, not chained. */
  readonly duplicates: number;
  readonly headSeq: number;
}

/** Where the chain ends: the last row's sequence number and hash. */
interface ChainEnd {
  readonly seq: number;
  readonly hash: string;
}

/**
 * A batch as the writer queues it: ids repeated inside it dropped, content hashed, and (when the
 * writer could tell where the chain would end before it) linked and serialised already.
 */
interface PreparedBatch {
  readonly events: readonly IncomingEvent[];
  readonly bodies: readonly string[];
  readonly contentHashes: readonly string[];
  /** Repeats inside the batch, left out. */
  readonly repeated: number;
  /** Check which ids are stored before linking (a redelivery in the batch, or a failed guess). */
  checkStored: boolean;
  /** Linked from `from`, ending at `to`, serialised as `rows`; null when not known in advance. */
  linked: { readonly from: ChainEnd; readonly to: ChainEnd; readonly rows: string } | null;
}

/** An id of the batch was stored by someone else after the check: the transaction is retried. */
class StoredMeanwhile extends Error {}

const ATTEMPTS = 3;

/**
 * The only writer of the hash chain. A batch appends atomically while holding the lock on the
 * chain head row, so the chain stays linear even with several writer processes; within a process,
 * batches queue here so they do not contend for that lock and commit one at a time, in the order
 * they were appended. Ids already stored are left out before the chain is computed, so a
 * redelivery is neither stored twice nor chained.
 *
 * The costly part happens when a batch is appended, not when its turn comes: bodies are hashed,
 * and the batch is linked to where the batches queued before it will end the chain and written
 * out as the insert's parameter. Its turn is then one statement that checks, under the head lock,
 * that the chain does end there, inserts and moves the head; if the chain ends elsewhere (another
 * writer appended, a batch before it failed), a transaction links it again from the real head. A
 * batch appended while that end was unknown (the first one, one queued behind a batch that checks
 * for stored ids) is linked when its turn comes, from where the batch before it left the chain, so
 * the batches after it are linked in advance again. A batch that turns out to hold stored ids
 * fails as a whole and is appended again after a check of which ids are stored.
 */
export class ChainWriter {
  private tail: Promise<unknown> = Promise.resolve();
  /** Where the chain will end once every queued batch commits; null: not known yet. */
  private expectedEnd: ChainEnd | null = null;
  /** Where the last batch this writer finished left the chain; null: ask the database. */
  private committedEnd: ChainEnd | null = null;
  /** Batches appended and not finished, oldest (the one whose turn it is) first. */
  private readonly queue: PreparedBatch[] = [];

  constructor(private readonly db: AuditDb) {}

  append(batch: readonly IncomingEvent[]): Promise<AppendResult> {
    const prepared = this.prepare(batch);
    this.queue.push(prepared);
    const run = this.tail.then(() => this.turn(prepared));
    this.tail = run
      .then(
        (result) => {
          this.committedEnd = { seq: result.headSeq, hash: result.headHash };
        },
        () => {
          this.committedEnd = null;
        },
      )
      .finally(() => {
        this.queue.shift();
        // Batches queued after this one were linked to its expected end; they re-link themselves
        // if that was wrong. With none queued, what the database now holds is the next start.
        if (this.queue.length === 0) this.expectedEnd = this.committedEnd;
      });
    return run.then(({ inserted, duplicates, headSeq }) => ({ inserted, duplicates, headSeq }));
  }

  /**
   * A batch's turn. One appended while the chain's end was unknown is linked now, from where the
   * batch before it left the chain; the batches queued behind it are linked on from there once
   * its statement is on its way, so they, and the ones appended after them, are linked in advance.
   */
  private turn(batch: PreparedBatch): Promise<AppendResult & { headHash: string }> {
    let linkQueued = false;
    if (batch.linked === null && !batch.checkStored && this.committedEnd !== null && batch.events.length > 0) {
      batch.linked = link(batch, this.committedEnd);
      linkQueued = true;
    }
    const result = this.appendNow(batch);
    if (linkQueued) setImmediate(() => this.linkQueued());
    return result;
  }

  /** Links each queued batch that is not linked yet on from the one before it, where that is known. */
  private linkQueued(): void {
    let end: ChainEnd | null = null;
    for (const b of this.queue) {
      if (b.events.length === 0) continue;
      if (b.checkStored) {
        end = null;
      } else if (b.linked !== null) {
        end = b.linked.to;
      } else if (end !== null) {
        b.linked = link(b, end);
        end = b.linked.to;
      }
    }
    this.expectedEnd = end;
  }

  private prepare(batch: readonly IncomingEvent[]): PreparedBatch {
    const seen = new Set<string>();
    const events: IncomingEvent[] = [];
    const bodies: string[] = [];
    const contentHashes: string[] = [];
    let checkStored = false;
    for (const e of batch) {
      if (seen.has(e.id)) continue;
      seen.add(e.id);
      const bodyJson = e.bodyJson ?? canonicalJson(e.body);
      events.push(e);
      bodies.push(bodyJson);
      contentHashes.push(contentHash(e, bodyJson));
      if (e.redelivered === true) checkStored = true;
    }
    const prepared: PreparedBatch = { events, bodies, contentHashes, repeated: batch.length - events.length, checkStored, linked: null };
    if (!checkStored && this.expectedEnd !== null && events.length > 0) {
      prepared.linked = link(prepared, this.expectedEnd);
      this.expectedEnd = prepared.linked.to;
    } else {
      this.expectedEnd = null;
    }
    return prepared;
  }

  private async appendNow(batch: PreparedBatch): Promise<AppendResult & { headHash: string }> {
    for (let attempt = 1; ; attempt++) {
      try {
        if (!batch.checkStored && batch.linked !== null) {
          const done = await this.appendLinked(batch);
          if (done !== null) return done;
        }
        return await this.db.transaction((tx) => this.appendChecked(tx, batch));
      } catch (err) {
        if (!(err instanceof StoredMeanwhile) || attempt >= ATTEMPTS) throw err;
        batch.checkStored = true;
      }
    }
  }

  /**
   * The usual case: linked in advance, so one statement checks the head, inserts and moves the
   * head. A statement is atomic on its own, so it runs outside an explicit transaction: no BEGIN
   * and COMMIT round trips, which wait on this process's event loop while it prepares the next
   * batch. Null when the chain ends elsewhere (nothing was written): the caller links again from
   * the head under a transaction.
   */
  private async appendLinked(batch: PreparedBatch): Promise<(AppendResult & { headHash: string }) | null> {
    const linked = batch.linked as NonNullable<PreparedBatch['linked']>;
    const outcome = await insertLinkedRows(this.db, linked.rows, linked.from, linked.to).catch((err: unknown) => {
      // A stored id fails the whole statement, so nothing of the batch is kept.
      throw isStoredIdConflict(err) ? new StoredMeanwhile() : err;
    });
    if (outcome.head === null) throw missingHead();
    if (outcome.head.seq !== linked.from.seq || outcome.head.hash !== linked.from.hash) return null;
    return { inserted: outcome.inserted, duplicates: batch.repeated, headSeq: linked.to.seq, headHash: linked.to.hash };
  }

  /**
   * Locks the head, learning in the same round trip which ids are stored when that is asked for,
   * then links from the head and inserts what is not stored.
   */
  private async appendChecked(tx: SqlRunner, batch: PreparedBatch): Promise<AppendResult & { headHash: string }> {
    const stored = batch.checkStored
      ? sql`(select string_agg(e.id::text, ',') from audit_events e where e.id = any(${sql.param(batch.events.map((e) => e.id))}::uuid[]))`
      : sql`null::text`;
    const locked = (await tx.execute(sql`
      select h.seq, h.row_hash, ${stored} as stored
      from audit_chain_head h where h.id = 1 for update of h`)) as { rows: { seq: unknown; row_hash: string; stored: string | null }[] };
    const head = locked.rows[0];
    if (head === undefined) throw missingHead();
    const storedIds = new Set(head.stored?.split(',') ?? []);
    const keep = { events: [] as IncomingEvent[], bodies: [] as string[], contentHashes: [] as string[] };
    batch.events.forEach((e, i) => {
      if (storedIds.has(e.id)) return;
      keep.events.push(e);
      keep.bodies.push(batch.bodies[i] as string);
      keep.contentHashes.push(batch.contentHashes[i] as string);
    });
    const from = { seq: Number(head.seq), hash: head.row_hash };
    const duplicates = batch.repeated + storedIds.size;
    if (keep.events.length === 0) return { inserted: 0, duplicates, headSeq: from.seq, headHash: from.hash };
    return insertFromHead(tx, keep, from, duplicates);
  }
}

/**
 * Links the rows on from the head, locked by this transaction, inserts them and moves the head
 * there; an id stored by someone else meanwhile throws {@link StoredMeanwhile}.
 */
async function insertFromHead(
  tx: SqlRunner,
  part: Pick<PreparedBatch, 'events' | 'bodies' | 'contentHashes'>,
  head: ChainEnd,
  duplicates: number,
): Promise<AppendResult & { headHash: string }> {
  const linked = link(part, head);
  if ((await insertRowJson(tx, linked.rows, { seq: linked.to.seq, rowHash: linked.to.hash })) !== part.events.length) {
    throw new StoredMeanwhile();
  }
  return { inserted: part.events.length, duplicates, headSeq: linked.to.seq, headHash: linked.to.hash };
}

/** Chains the batch's rows on from `from` and writes them out as the insert's parameter. */
function link(
  batch: Pick<PreparedBatch, 'events' | 'bodies' | 'contentHashes'>,
  from: ChainEnd,
): { from: ChainEnd; to: ChainEnd; rows: string } {
  const rows = new Array<string>(batch.events.length);
  let seq = from.seq;
  let prev = from.hash;
  for (let i = 0; i < batch.events.length; i++) {
    seq += 1;
    const hash = rowHash(prev, seq, batch.contentHashes[i] as string);
    rows[i] = eventRowJson(batch.events[i] as IncomingEvent, batch.bodies[i] as string, { seq, prevHash: prev, rowHash: hash });
    prev = hash;
  }
  return { from, to: { seq, hash: prev }, rows: jsonArray(rows) };
}

/** A unique violation on the primary key: an id of the batch is stored already. */
function isStoredIdConflict(err: unknown): boolean {
  // drizzle wraps the driver's error; both drivers give the SQLSTATE and the constraint.
  for (let e = err as { code?: unknown; constraint?: unknown; cause?: unknown } | undefined, depth = 0; e != null && depth < 3; depth++) {
    if (e.code === '23505') return e.constraint === 'audit_events_pkey';
    e = e.cause as typeof e;
  }
  return false;
}

function missingHead(): VmiError {
  return new VmiError(AuditErrors.DATABASE, 'chain head row is missing; migrations not applied');
}
