import type { AuditChainVerifyReply, AuditRetentionReply } from '@vmi/contracts';
import { eq, sql } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentHash, rowHash } from '../chain/row-hash.js';
import type { AuditDatabase } from '../db/open.js';
import { type EventRow, events } from '../db/schema.js';
import { BACKENDS, createTestStorage, type TestStorage } from '../test-support/databases.js';
import { postJson, testApp } from '../test-support/harness.js';
import { finding, trapEvent } from '../test-support/messages.js';
import { ChainWriter, type IncomingEvent } from './append-events.js';

const DAY = 86_400_000;

function incoming(i: number, time: Date): IncomingEvent {
  const m =
    i % 4 === 0
      ? finding({ host: 'hv-1', guest: 'g-1', rule: 'idt', severity: 'high', time })
      : trapEvent({ host: 'hv-1', guest: 'g-1', rule: 'idt', severity: 'low', time, seq: i });
  const stream = m.type === 'finding' ? 'findings' : 'traps';
  return {
    id: m.id,
    stream,
    subject: `vmi.${m.type}.x`,
    type: m.type,
    host: m.host,
    guest: m.guest,
    time,
    severity: i % 4 === 0 ? 'high' : 'low',
    rule: 'idt',
    body: JSON.parse(JSON.stringify(m)),
  };
}

describe.each(BACKENDS)('the hash chain shows tampering and survives retention (%s)', (backend) => {
  let storage: TestStorage;
  let database: AuditDatabase;
  let writer: ChainWriter;
  let app: FastifyInstance;
  const verify = async (body: Record<string, unknown> = {}) => (await postJson<AuditChainVerifyReply>(app, '/v1/chain/verify', body)).body;
  const rowAt = async (seq: number) => {
    const [row] = await database.db.select().from(events).where(eq(events.seq, seq));
    if (row === undefined) throw new Error(`no row ${seq}`);
    return row;
  };
  /** Runs `tamper`, checks what verification says, then puts the row back as it was. */
  const tampered = async (seq: number, tamper: (row: EventRow) => Promise<void>, check: (r: AuditChainVerifyReply) => void) => {
    const original = await rowAt(seq);
    await tamper(original);
    try {
      check(await verify());
    } finally {
      await database.db.delete(events).where(eq(events.seq, seq));
      await database.db.insert(events).values(original);
    }
    expect((await verify()).ok).toBe(true);
  };

  beforeAll(async () => {
    storage = await createTestStorage(backend);
    database = await storage.open();
    writer = new ChainWriter(database.db);
    app = await testApp(database);
    // 40 events ten days old, then 20 recent ones, appended in three batches.
    const now = Date.now();
    const batch = Array.from({ length: 60 }, (_, i) => incoming(i, new Date(i < 40 ? now - 10 * DAY + i * 1000 : now - 1000 + i)));
    await writer.append(batch.slice(0, 25));
    await writer.append(batch.slice(25, 45));
    await writer.append(batch.slice(45));
  });

  afterAll(async () => {
    await app?.close();
    await database?.close();
    await storage?.drop();
  });

  it('verifies a sound chain from the genesis hash', async () => {
    expect(await verify()).toEqual({ ok: true, checked: 60, from_seq: 1, to_seq: 60, anchor: 'genesis', broken: null });
    expect(await verify({ from_seq: 10, to_seq: 20 })).toMatchObject({ ok: true, checked: 11, anchor: 'row' });
  });

  it('skips ids it already holds without breaking the chain', async () => {
    const again = await rowAt(5);
    const fresh = incoming(100, new Date());
    const result = await writer.append([{ ...again, body: again.body }, fresh, fresh]);
    expect(result).toMatchObject({ inserted: 1, duplicates: 2, headSeq: 61 });
    expect(await verify()).toMatchObject({ ok: true, checked: 61 });
  });

  it('reports a row whose body was edited in place', async () => {
    await tampered(
      7,
      async () => {
        await database.db.execute(sql`update audit_events set body = jsonb_set(body, '{host}', '"elsewhere"') where seq = 7`);
      },
      (r) => {
        expect(r.ok).toBe(false);
        expect(r.broken).toMatchObject({ seq: 7, reason: 'row-hash' });
        expect(r.checked).toBe(6);
      },
    );
  });

  it('reports a row whose indexed columns were edited', async () => {
    await tampered(
      9,
      async () => {
        await database.db.update(events).set({ severity: 'info' }).where(eq(events.seq, 9));
      },
      (r) => expect(r.broken).toMatchObject({ seq: 9, reason: 'row-hash' }),
    );
  });

  it('reports the next row when an edit also recomputed the edited row hash', async () => {
    await tampered(
      15,
      async (row) => {
        const forged = { ...row, time: new Date(row.time.getTime() + 1) };
        await database.db
          .update(events)
          .set({ time: forged.time, rowHash: rowHash(row.prevHash, row.seq, contentHash(forged)) })
          .where(eq(events.seq, 15));
      },
      (r) => expect(r.broken).toMatchObject({ seq: 16, reason: 'link' }),
    );
  });

  it('reports a deleted row as a gap, and a deleted last row against the head', async () => {
    await tampered(
      12,
      async () => {
        await database.db.delete(events).where(eq(events.seq, 12));
      },
      (r) => expect(r.broken).toMatchObject({ seq: 12, reason: 'gap' }),
    );
    await tampered(
      61,
      async () => {
        await database.db.delete(events).where(eq(events.seq, 61));
      },
      (r) => expect(r.broken).toMatchObject({ seq: 61, reason: 'gap' }),
    );
  });

  it('removes old events as a chain prefix and verifies the rest from the checkpoint', async () => {
    const run = await postJson<AuditRetentionReply>(app, '/v1/retention/run', { max_age_s: 5 * 86_400 });
    expect(run.status).toBe(200);
    expect(run.body.removed).toBe(40);
    expect(run.body.checkpoint?.seq).toBe(40);
    expect(run.body.checkpoint?.row_hash).toBe((await rowAt(41)).prevHash);
    expect(await verify()).toEqual({ ok: true, checked: 21, from_seq: 41, to_seq: 61, anchor: 'checkpoint', broken: null });
    expect(await verify({ from_seq: 1 })).toMatchObject({ ok: true, from_seq: 41, anchor: 'checkpoint' });

    // Appending after retention links to the old head, and tampering is still seen.
    await writer.append([incoming(200, new Date())]);
    expect(await verify()).toMatchObject({ ok: true, checked: 22 });
    await tampered(
      41,
      async () => {
        await database.db.update(events).set({ guest: 'other' }).where(eq(events.seq, 41));
      },
      (r) => expect(r.broken).toMatchObject({ seq: 41, reason: 'row-hash' }),
    );

    // Nothing else is old enough: a second run removes nothing and keeps the checkpoint.
    const again = await postJson<AuditRetentionReply>(app, '/v1/retention/run', { max_age_s: 5 * 86_400 });
    expect(again.body).toMatchObject({ removed: 0, checkpoint: null });
    expect((await verify()).ok).toBe(true);
  });

  it('refuses a retention run with no age given or configured', async () => {
    const r = await postJson<{ code: string; path: string }>(app, '/v1/retention/run', {});
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ code: 'VMI_ERR_AUDIT_BAD_REQUEST', path: '/body/max_age_s' });
  });
});
