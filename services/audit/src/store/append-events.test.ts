import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditDatabase } from '../db/open.js';
import { BACKENDS, createTestStorage, type TestStorage } from '../test-support/databases.js';
import { trapEvent } from '../test-support/messages.js';
import { ChainWriter, type IncomingEvent } from './append-events.js';
import { verifyChain } from './verify-chain.js';

function incoming(seq: number, redelivered = false): IncomingEvent {
  const time = new Date(Date.UTC(2026, 0, 1, 0, 0, seq));
  const m = trapEvent({ host: 'hv-1', guest: 'g-1', rule: 'idt', severity: 'low', time, seq });
  return {
    id: m.id,
    stream: 'traps',
    subject: 'vmi.trap.hv-1.g-1',
    type: m.type,
    host: m.host,
    guest: m.guest,
    time,
    severity: 'low',
    rule: 'idt',
    body: JSON.parse(JSON.stringify(m)),
    redelivered,
  };
}

const events = (from: number, count: number) => Array.from({ length: count }, (_, i) => incoming(from + i));

describe.each(BACKENDS)('the chain writer links queued batches and recovers from a wrong guess (%s)', (backend) => {
  let storage: TestStorage;
  let database: AuditDatabase;
  const chain = () => verifyChain(database.db, {});

  beforeAll(async () => {
    storage = await createTestStorage(backend);
    database = await storage.open();
  });

  afterAll(async () => {
    await database?.close();
    await storage?.drop();
  });

  it('commits batches appended without waiting in order, as one linear chain', async () => {
    const writer = new ChainWriter(database.db);
    const results = await Promise.all(Array.from({ length: 6 }, (_, b) => writer.append(events(b * 10, 10))));
    expect(results.map((r) => r.headSeq)).toEqual([10, 20, 30, 40, 50, 60]);
    expect(await chain()).toMatchObject({ ok: true, checked: 60 });
  });

  it('links again from the real head when another writer appended meanwhile', async () => {
    const first = new ChainWriter(database.db);
    const second = new ChainWriter(database.db);
    // Each writer expects the chain to end where its own last batch left it; the other moves it.
    for (let round = 0; round < 3; round++) {
      await first.append(events(1000 + round * 20, 10));
      await second.append(events(1010 + round * 20, 10));
    }
    const both = await Promise.all([first.append(events(2000, 10)), second.append(events(2010, 10)), first.append(events(2020, 10))]);
    expect(both.every((r) => r.inserted === 10)).toBe(true);
    expect(await chain()).toMatchObject({ ok: true, checked: 150 });
  });

  it('stores nothing twice when a batch linked in advance holds a stored id', async () => {
    const writer = new ChainWriter(database.db);
    const stored = events(3000, 5);
    await writer.append(stored);
    const later = events(3010, 5);
    // Not marked as redelivered: the writer links it in advance and learns of the stored id on insert.
    const results = await Promise.all([writer.append([stored[2] as IncomingEvent, ...events(3005, 5)]), writer.append(later)]);
    expect(results.map((r) => [r.inserted, r.duplicates])).toEqual([
      [5, 1],
      [5, 0],
    ]);
    const marked = await writer.append([{ ...(later[1] as IncomingEvent), redelivered: true }, incoming(3015, true)]);
    expect(marked).toMatchObject({ inserted: 1, duplicates: 1 });
    expect(await chain()).toMatchObject({ ok: true, checked: 166 });
  });

  it('links batches queued behind a stored-id check on from where that check leaves the chain', async () => {
    const writer = new ChainWriter(database.db);
    const stored = events(4000, 5);
    await writer.append(stored);
    const results = await Promise.all([
      writer.append(events(4005, 5)),
      writer.append([{ ...(stored[0] as IncomingEvent), redelivered: true }, incoming(4010, true)]),
      writer.append(events(4011, 5)),
      writer.append(events(4016, 5)),
    ]);
    expect(results.map((r) => r.inserted)).toEqual([5, 1, 5, 5]);
    expect(await chain()).toMatchObject({ ok: true, checked: 187 });
  });
});
