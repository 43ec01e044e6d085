/**
 * Audit trail: ingest rate from JetStream to committed, hash-chained rows beside the rate of
 * inserting the same rows straight into the same table (the floor), and the latency of filtered,
 * paginated REST queries over 1,000,000 stored events on Postgres and 100,000 on PGlite.
 *
 * Needs the NATS at NATS_URL and the Postgres at BENCH_DATABASE_URL (a database is created per
 * part and dropped afterwards).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AppendResult,
  type AuditDatabase,
  buildApp,
  ChainWriter,
  createMessageDecoder,
  type IncomingEvent,
  insertEventRows,
  openDatabase,
  registeredMessageValidators,
  startIngest,
} from '@vmi/audit';
import { type AuditEventPage, allStreamDefinitions, makeMessage, Subjects, type TrapEvent } from '@vmi/contracts';
import { connectNats, createLogger, deleteStreams, ensureStreams, jetstream, publishMessage, runBatchConsumer } from '@vmi/service-runtime';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { nowMs, runBench } from './harness.js';

type App = Awaited<ReturnType<typeof buildApp>>;

const POSTGRES_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const INGEST_EVENTS = Number(process.env.BENCH_AUDIT_INGEST ?? 20_000);
const PG_ROWS = Number(process.env.BENCH_AUDIT_PG_ROWS ?? 1_000_000);
const PGLITE_ROWS = Number(process.env.BENCH_AUDIT_PGLITE_ROWS ?? 100_000);
const QUERIES = Number(process.env.BENCH_AUDIT_QUERIES ?? 150);
const BATCH = Number(process.env.BENCH_AUDIT_BATCH ?? 1000);
const CONSUMERS_PER_STREAM = Number(process.env.BENCH_AUDIT_LOOPS ?? 1);
const TOKEN = randomBytes(16).toString('hex');
const logger = createLogger({ service: 'bench-audit', level: 'warn' });
const log = (text: string) => process.stderr.write(`[bench:audit] ${text}\n`);

/** A fresh database on the bench Postgres server, dropped by `drop`. */
async function scratchPostgres(label: string): Promise<{ database: AuditDatabase; drop(): Promise<void> }> {
  const name = `audit_bench_${label}_${randomBytes(4).toString('hex')}`;
  const admin = async (statement: (c: pg.Client) => string) => {
    const c = new pg.Client({ connectionString: POSTGRES_URL });
    await c.connect();
    try {
      await c.query(statement(c));
    } finally {
      await c.end();
    }
  };
  await admin((c) => `CREATE DATABASE ${c.escapeIdentifier(name)}`);
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${name}`;
  const database = await openDatabase({ databaseUrl: url.toString(), dataDir: tmpdir(), poolSize: 4 });
  return {
    database,
    drop: async () => {
      await database.close();
      await admin((c) => `DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)} WITH (FORCE)`);
    },
  };
}

function trap(i: number): TrapEvent {
  const time = new Date().toISOString();
  return makeMessage('trap', `hv-${i % 10}`, `g-${i % 100}`, {
    seq: i,
    region: { rule: `rule-${i % 20}`, object: `sys_call_table[${i % 300}]`, severity: 'high' as const, mode: 'monitor' as const },
    address: { virtual: '0xffffffff820001d8', physical: '0x20001d8' },
    length: 8,
    old_bytes: '10a3b281ffffffff',
    new_bytes: '00c0a0c0ffffffff',
    writer: { rip: '0xffffffffc0a01234', cr3: '0x10a2000', vcpu: 0 },
    mechanism: 'watchpoint' as const,
    merged: false,
    held: false,
    trapped_at: time,
    native_latency_ns: 85_000,
  });
}

/** Counts committed rows as the ingest appends them, so the clock stops at the last commit. */
class CountingWriter extends ChainWriter {
  inserted = 0;
  private waiting: { target: number; resolve: () => void } | undefined;

  override async append(batch: readonly IncomingEvent[]): Promise<AppendResult> {
    const result = await super.append(batch);
    this.inserted += result.inserted;
    if (this.waiting !== undefined && this.inserted >= this.waiting.target) this.waiting.resolve();
    return result;
  }

  until(target: number): Promise<void> {
    return new Promise((resolve) => {
      this.waiting = { target, resolve };
      if (this.inserted >= target) resolve();
    });
  }
}

/** JetStream backlog of `count` traps drained into the chain; rows per second from start to last commit. */
async function measureIngest(database: AuditDatabase, messages: readonly TrapEvent[]): Promise<number> {
  const prefix = `b${randomBytes(4).toString('hex')}`;
  const subjects = new Subjects(prefix);
  const nc = await connectNats({ servers: NATS_URL, name: `bench-audit-${prefix}`, logger });
  const defs = allStreamDefinitions(prefix);
  await ensureStreams(nc, defs);
  try {
    const js = jetstream(nc);
    for (let i = 0; i < messages.length; i += 500) {
      await Promise.all(messages.slice(i, i + 500).map((m) => publishMessage(js, subjects.trap(m.host, m.guest), m)));
    }
    const writer = new CountingWriter(database.db);
    const t0 = nowMs();
    const ingest = await startIngest({
      writer,
      streams: ['traps'],
      prefix,
      batchSize: BATCH,
      maxAckPending: 5000,
      consumersPerStream: CONSUMERS_PER_STREAM,
      consumeBatches: (options) => runBatchConsumer({ ...options, nc, logger, subjects }),
    });
    await writer.until(messages.length);
    const perS = messages.length / ((nowMs() - t0) / 1000);
    await ingest.stop();
    return perS;
  } finally {
    await deleteStreams(
      nc,
      defs.map((d) => d.name),
    );
    await nc.drain();
  }
}

/**
 * The same rows, decoded the same way (canonical body text included, before the clock starts),
 * inserted with the same statement: no NATS, no chain.
 */
async function measureFloor(database: AuditDatabase, messages: readonly TrapEvent[], firstSeq: number): Promise<number> {
  const decoder = createMessageDecoder(registeredMessageValidators());
  const zero = '0'.repeat(64);
  const rows = messages.map((m, i) => {
    const { envelope, bodyJson } = decoder.parse(m);
    return {
      ...envelope,
      body: m,
      bodyJson,
      stream: 'traps',
      subject: `floor.${m.guest}`,
      seq: firstSeq + i,
      prevHash: zero,
      rowHash: zero,
    };
  });
  const t0 = nowMs();
  for (let i = 0; i < rows.length; i += BATCH) await insertEventRows(database.db, rows.slice(i, i + BATCH));
  return rows.length / ((nowMs() - t0) / 1000);
}

/**
 * `count` synthetic events spread over 30 days, generated inside the database: 100 guests on 10
 * hosts, a fifth of the events findings, 20 rules and 5 severities, drawn independently.
 */
async function fillEvents(database: AuditDatabase, count: number, label: string): Promise<void> {
  const start = Date.UTC(2026, 0, 1);
  const chunk = 100_000;
  const t0 = nowMs();
  for (let from = 1; from <= count; from += chunk) {
    const to = Math.min(count, from + chunk - 1);
    await database.db.execute(sql`
      insert into audit_events (id, seq, stream, subject, type, host, guest, time, severity, rule, body, prev_hash, row_hash)
      select md5('bench' || g)::uuid, g,
        case when abs(hashint4(g::int + 3)) % 5 = 0 then 'findings' else 'traps' end,
        'vmi.bench.' || (g % 100),
        case when abs(hashint4(g::int + 3)) % 5 = 0 then 'finding' else 'trap' end,
        'hv-' || (g % 100) % 10,
        'g-' || (g % 100),
        to_timestamp(${start / 1000}::double precision + g * ${(30 * 86_400) / count}::double precision),
        (array['info','low','medium','high','critical'])[1 + abs(hashint4(g::int)) % 5],
        'rule-' || abs(hashint4(g::int + 7)) % 20,
        jsonb_build_object('id', md5('bench' || g)::uuid, 'seq', g,
          'region', jsonb_build_object('object', 'sys_call_table[' || g % 300 || ']', 'mode', 'monitor'),
          'old_bytes', '10a3b281ffffffff', 'new_bytes', '00c0a0c0ffffffff'),
        repeat('0', 64), repeat('0', 64)
      from generate_series(${from}::bigint, ${to}::bigint) as g`);
    log(`${label}: ${to} of ${count} rows (${Math.round((nowMs() - t0) / 1000)} s)`);
  }
  await database.db.execute(sql`analyze audit_events`);
}

/** A deterministic mix of filtered queries, each followed for up to three pages; latency per request. */
async function measureQueries(app: App, queries: number, seed: number): Promise<number[]> {
  let state = seed;
  const rand = (n: number) => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state % n;
  };
  const day = (d: number) => new Date(Date.UTC(2026, 0, 1 + d)).toISOString();
  const samples: number[] = [];
  for (let q = 0; q < queries; q++) {
    const d = rand(27);
    const shapes = [
      `/v1/events?guest=g-${rand(100)}&type=finding&from=${day(d)}&to=${day(d + 3)}&limit=100`,
      `/v1/findings?severity=critical&rule=rule-${rand(20)}&limit=100`,
      `/v1/events?host=hv-${rand(10)}&from=${day(d)}&to=${day(d + 1)}&limit=100`,
      `/v1/events?type=trap&severity=high&from=${day(d)}&limit=50`,
    ];
    let url: string | null = shapes[rand(shapes.length)] as string;
    for (let page = 0; page < 3 && url !== null; page++) {
      const t0 = nowMs();
      const res = await app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${TOKEN}` } });
      samples.push(nowMs() - t0);
      if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body.slice(0, 200)}`);
      const body = res.json() as AuditEventPage;
      const base: string = url.replace(/&cursor=[^&]*$/, '');
      url = body.next_cursor === null ? null : `${base}&cursor=${body.next_cursor}`;
    }
  }
  return samples;
}

interface State {
  ingestDb: Awaited<ReturnType<typeof scratchPostgres>>;
  floorDb: Awaited<ReturnType<typeof scratchPostgres>>;
  queryDb: Awaited<ReturnType<typeof scratchPostgres>>;
  queryApp: App;
  pglite: AuditDatabase;
  pgliteDir: string;
  pgliteApp: App;
  seq: number;
}

await runBench<State>({
  name: 'audit',
  description:
    `Ingest: ${INGEST_EVENTS} trap events published to JetStream, then drained by the audit ingest (durable batch consumer, ` +
    `${BATCH} per batch, ${CONSUMERS_PER_STREAM} pull loop(s), validation, hash chain, one transaction per batch, ack after commit) into ` +
    `Postgres; the floor inserts the same decoded rows into the same table and indexes (the same json_to_recordset INSERT of ` +
    `${BATCH} rows, no NATS, no chain) in the same run. Queries: ` +
    `filtered REST pages (limit 50-100, up to 3 pages by cursor, through fastify inject) over ${PG_ROWS} generated events on ` +
    `Postgres and ${PGLITE_ROWS} on PGlite.`,
  runs: 3,
  warmup: 1,
  units: {
    ingest_events_per_s: 'events/s',
    pg_floor_rows_per_s: 'rows/s',
    ingest_vs_floor_pct: '%',
    query_ms: 'ms',
    pglite_query_ms: 'ms',
  },
  targets: [
    { name: 'ingest keeps up with plain inserts', expression: 'ingest_vs_floor_pct >= 80' },
    { name: 'a filtered page over 1M events is quick', expression: 'query_ms_p99 < 50' },
  ],
  setup: async () => {
    const ingestDb = await scratchPostgres('ingest');
    const floorDb = await scratchPostgres('floor');
    const queryDb = await scratchPostgres('query');
    log(`generating ${PG_ROWS} rows on Postgres`);
    await fillEvents(queryDb.database, PG_ROWS, 'postgres');
    const queryApp = await buildApp({ database: queryDb.database, tokens: [`read:${TOKEN}`] });
    const pgliteDir = mkdtempSync(join(tmpdir(), 'audit-bench-'));
    log('opening PGlite');
    const pglite = await openDatabase({ dataDir: pgliteDir });
    await fillEvents(pglite, PGLITE_ROWS, 'pglite');
    const pgliteApp = await buildApp({ database: pglite, tokens: [`read:${TOKEN}`] });
    return { ingestDb, floorDb, queryDb, queryApp, pglite, pgliteDir, pgliteApp, seq: 1 };
  },
  teardown: async (s) => {
    await s.queryApp.close();
    await s.pgliteApp.close();
    await s.pglite.close();
    rmSync(s.pgliteDir, { recursive: true, force: true });
    await s.ingestDb.drop();
    await s.floorDb.drop();
    await s.queryDb.drop();
  },
  run: async ({ run, state }) => {
    const messages = Array.from({ length: INGEST_EVENTS }, (_, i) => trap(i));
    const floor = await measureFloor(state.floorDb.database, messages, state.seq);
    state.seq += messages.length;
    const ingest = await measureIngest(state.ingestDb.database, messages);
    const query = await measureQueries(state.queryApp, QUERIES, 1000 + run);
    const pgliteQuery = await measureQueries(state.pgliteApp, QUERIES, 2000 + run);
    log(`run ${run}: ingest ${Math.round(ingest)}/s, floor ${Math.round(floor)}/s`);
    return { ingest_events_per_s: ingest, pg_floor_rows_per_s: floor, query_ms: query, pglite_query_ms: pgliteQuery };
  },
  derive: (m) => ({ ingest_vs_floor_pct: ((m.ingest_events_per_s ?? 0) / (m.pg_floor_rows_per_s ?? 1)) * 100 }),
});
