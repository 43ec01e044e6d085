import { sql } from 'drizzle-orm';
import type { ChainedContent } from '../chain/row-hash.js';
import type { AuditDb } from '../db/open.js';
import type { NewEventRow } from '../db/schema.js';

/**
 * A row with every stored column given (ingested_at is the database's); `bodyJson`, when set, is
 * the body already serialised (the chain writer's canonical text).
 */
export type FullEventRow = Required<Omit<NewEventRow, 'ingestedAt'>> & { readonly bodyJson?: string };

/** Anything that runs SQL: the database or a transaction on it. */
export type SqlRunner = Pick<AuditDb, 'execute'>;

/** Where a row sits in the hash chain. */
export interface ChainLink {
  readonly seq: number;
  readonly prevHash: string;
  readonly rowHash: string;
}

/**
 * One row as a JSON object, the form {@link insertRowJson} takes. The body goes in as the JSON text
 * it already is, so nothing is escaped twice; ISO times and hex hashes need no escaping.
 */
export function eventRowJson(e: Omit<ChainedContent, 'body'>, bodyJson: string, link: ChainLink): string {
  const s = JSON.stringify;
  return (
    `{"id":${s(e.id)},"seq":${link.seq},"stream":${s(e.stream)},"subject":${s(e.subject)},"type":${s(e.type)},` +
    `"host":${s(e.host)},"guest":${s(e.guest)},"time":"${e.time.toISOString()}","severity":${s(e.severity)},` +
    `"rule":${s(e.rule)},"prev_hash":"${link.prevHash}","row_hash":"${link.rowHash}","body":${bodyJson}}`
  );
}

/**
 * The rows (see {@link eventRowJson}) as one JSON array. The brackets go onto the first and last
 * row (in the given array) before the join, so the join makes the whole text in one flat string; wrapping the joined
 * text in brackets afterwards makes a composite string that the driver's byte count then copies
 * into a fresh ~1 MB string per batch (several milliseconds of page faults).
 */
export function jsonArray(rows: string[]): string {
  if (rows.length === 0) return '[]';
  const last = rows.length - 1;
  rows[0] = `[${rows[0]}`;
  rows[last] = `${rows[last]}]`;
  return rows.join(',');
}

/** The insert of a JSON array of rows (see {@link eventRowJson}), split into typed columns. */
const insertRows = (rows: string) => sql`
  insert into audit_events (id, seq, stream, subject, type, host, guest, time, severity, rule, body, prev_hash, row_hash)
  select r.id, r.seq, r.stream, r.subject, r.type, r.host, r.guest, r.time, r.severity, r.rule, r.body, r.prev_hash, r.row_hash
  from json_to_recordset(${sql.param(rows)}::json) as r(
    id uuid, seq bigint, stream text, subject text, type text, host text, guest text, time timestamptz,
    severity text, rule text, body jsonb, prev_hash text, row_hash text)`;

/**
 * Inserts many rows with one statement and one bound parameter: a JSON array of the rows (see
 * {@link eventRowJson}), split into typed columns by `json_to_recordset`. Far less to build and
 * send than a parameter per value, and no array-literal escaping. Rows whose id is already stored
 * are skipped (ON CONFLICT DO NOTHING); the count actually inserted is returned. With `head`, the
 * same statement moves the chain head there (one round trip for both).
 */
export async function insertRowJson(runner: SqlRunner, rows: string, head?: { seq: number; rowHash: string }): Promise<number> {
  const moveHead =
    head === undefined
      ? sql``
      : sql`, moved as (update audit_chain_head set seq = ${head.seq}::bigint, row_hash = ${head.rowHash} where id = 1 returning 1)`;
  // Both drivers answer with `rows`.
  const result = (await runner.execute(sql`
    with inserted as (${insertRows(rows)} on conflict (id) do nothing returning 1)${moveHead}
    select count(*)::int as n from inserted`)) as { rows: { n?: unknown }[] };
  return Number(result.rows[0]?.n ?? 0);
}

/**
 * Inserts rows linked in advance from `from` and moves the chain head to `to`, but only if the
 * chain ends at `from`: the head row is locked and compared in the same statement, so the
 * statement needs no transaction around it. Answers the head as it was (under the lock) and the
 * count inserted (none when the head was elsewhere). An id already stored is not skipped but
 * fails the statement (unique violation on the primary key): skipping it would move the head past
 * a row that is not there.
 */
export async function insertLinkedRows(
  runner: SqlRunner,
  rows: string,
  from: { seq: number; hash: string },
  to: { seq: number; hash: string },
): Promise<{ head: { seq: number; hash: string } | null; inserted: number }> {
  const result = (await runner.execute(sql`
    with head as (select seq, row_hash from audit_chain_head where id = 1 for update),
    expected as (select 1 from head where seq = ${from.seq}::bigint and row_hash = ${from.hash}),
    inserted as (${insertRows(rows)} where exists (select 1 from expected) returning 1),
    moved as (
      update audit_chain_head set seq = ${to.seq}::bigint, row_hash = ${to.hash}
      where id = 1 and exists (select 1 from expected) returning 1)
    select h.seq, h.row_hash, (select count(*)::int from inserted) as n from head h`)) as {
    rows: { seq: unknown; row_hash: string; n: unknown }[];
  };
  const row = result.rows[0];
  return { head: row === undefined ? null : { seq: Number(row.seq), hash: row.row_hash }, inserted: Number(row?.n ?? 0) };
}

/** {@link insertRowJson} for whole rows. */
export function insertEventRows(
  runner: SqlRunner,
  rows: readonly FullEventRow[],
  head?: { seq: number; rowHash: string },
): Promise<number> {
  if (rows.length === 0) return Promise.resolve(0);
  // jsonb keeps no key order: any JSON text of the body stores the same value.
  return insertRowJson(runner, jsonArray(rows.map((r) => eventRowJson(r, r.bodyJson ?? JSON.stringify(r.body), r))), head);
}
