import { type SQL, sql } from 'drizzle-orm';
import type { AuditDb } from '../db/open.js';
import type { NewEventRow } from '../db/schema.js';

/**
 * A row with every stored column given (ingested_at is the database's); `bodyJson`, when set, is
 * the body already serialised (the chain writer's canonical text).
 */
export type FullEventRow = Required<Omit<NewEventRow, 'ingestedAt'>> & { readonly bodyJson?: string };

/** Anything that runs SQL: the database or a transaction on it. */
export type SqlRunner = Pick<AuditDb, 'execute'>;

/** Columns, their array cast, and how a row gives the value: one bound array per column. */
const COLUMNS: [name: string, cast: SQL, value: (r: FullEventRow) => unknown][] = [
  ['id', sql`::uuid[]`, (r) => r.id],
  ['seq', sql`::bigint[]`, (r) => r.seq],
  ['stream', sql`::text[]`, (r) => r.stream],
  ['subject', sql`::text[]`, (r) => r.subject],
  ['type', sql`::text[]`, (r) => r.type],
  ['host', sql`::text[]`, (r) => r.host],
  ['guest', sql`::text[]`, (r) => r.guest],
  ['time', sql`::timestamptz[]`, (r) => r.time.toISOString()],
  ['severity', sql`::text[]`, (r) => r.severity],
  ['rule', sql`::text[]`, (r) => r.rule],
  // jsonb[] literals would need their own escaping: text in, cast per row below.
  ['body', sql`::text[]`, (r) => r.bodyJson ?? JSON.stringify(r.body)],
  ['prev_hash', sql`::text[]`, (r) => r.prevHash],
  ['row_hash', sql`::text[]`, (r) => r.rowHash],
];

/**
 * Inserts many rows with one statement of thirteen bound arrays (`unnest`), instead of thirteen
 * parameters per row: far less to build, send and parse for a batch of a thousand. Rows whose id
 * is already stored are skipped (ON CONFLICT DO NOTHING); the count actually inserted is returned.
 * With `head`, the same statement moves the chain head there (one round trip for both).
 */
export async function insertEventRows(
  runner: SqlRunner,
  rows: readonly FullEventRow[],
  head?: { seq: number; rowHash: string },
): Promise<number> {
  if (rows.length === 0) return 0;
  const names = sql.join(
    COLUMNS.map(([name]) => sql.identifier(name)),
    sql`, `,
  );
  const arrays = sql.join(
    COLUMNS.map(([, cast, value]) => sql`${sql.param(rows.map(value))}${cast}`),
    sql`, `,
  );
  const selected = sql.join(
    COLUMNS.map(([name]) => (name === 'body' ? sql`u.${sql.identifier(name)}::jsonb` : sql`u.${sql.identifier(name)}`)),
    sql`, `,
  );
  const moveHead =
    head === undefined
      ? sql``
      : sql`, moved as (update audit_chain_head set seq = ${head.seq}::bigint, row_hash = ${head.rowHash} where id = 1 returning 1)`;
  // Both drivers answer with `rows`.
  const result = (await runner.execute(sql`
    with inserted as (
      insert into audit_events (${names}) select ${selected} from unnest(${arrays}) as u(${names})
      on conflict (id) do nothing
      returning 1
    )${moveHead}
    select count(*)::int as n from inserted`)) as { rows: { n?: unknown }[] };
  return Number(result.rows[0]?.n ?? 0);
}
