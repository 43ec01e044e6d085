import type { AuditAggregateReply, AuditChainVerifyReply, AuditEventPage, AuditEventRecord, SeverityName } from '@vmi/contracts';
import { publishMessage } from '@vmi/service-runtime';
import { sql } from 'drizzle-orm';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditDatabase } from '../db/open.js';
import { events } from '../db/schema.js';
import { BACKENDS, createTestStorage, type TestStorage } from '../test-support/databases.js';
import { allPages, getJson, postJson, testApp, testIngest, waitFor } from '../test-support/harness.js';
import { agentEvent, finding, trapEvent } from '../test-support/messages.js';
import { createTestBus, type TestBus } from '../test-support/nats.js';
import type { Ingest } from './start-ingest.js';

const HOSTS = ['hv-1', 'hv-2'];
const GUESTS = ['g-a', 'g-b', 'g-c'];
const RULES = ['syscall-table', 'idt', 'kernel-text'];
const SEVERITIES: SeverityName[] = ['low', 'high', 'critical'];
const BASE = Date.parse('2026-02-01T12:00:00.000Z');

type Published = { id: string; type: string; host: string; guest: string; rule: string | null; severity: string | null; time: number };

describe.each(BACKENDS)('events published to the streams are queryable over REST (%s)', (backend) => {
  let storage: TestStorage;
  let database: AuditDatabase;
  let bus: TestBus;
  let ingest: Ingest;
  let app: FastifyInstance;
  const published: Published[] = [];
  const countRows = async () => {
    const [row] = await database.db.select({ n: sql<number>`count(*)::int` }).from(events);
    return Number(row?.n ?? 0);
  };

  beforeAll(async () => {
    storage = await createTestStorage(backend);
    database = await storage.open();
    bus = await createTestBus();
    ingest = await testIngest(database, bus);
    app = await testApp(database);

    // 36 traps, 12 findings and 3 agent events spread over hosts, guests, rules, severities and minutes.
    for (let i = 0; i < 36; i++) {
      const [host, guest, rule, severity] = [HOSTS[i % 2], GUESTS[i % 3], RULES[i % 3], SEVERITIES[(i >> 1) % 3]] as [
        string,
        string,
        string,
        SeverityName,
      ];
      const m = trapEvent({ host, guest, rule, severity, time: new Date(BASE + i * 20_000), seq: i });
      await publishMessage(bus.js, bus.subjects.trap(host, guest), m);
      published.push({ id: m.id, type: 'trap', host, guest, rule, severity, time: Date.parse(m.time) });
    }
    for (let i = 0; i < 12; i++) {
      const [host, guest, rule, severity] = [HOSTS[i % 2], GUESTS[i % 3], RULES[(i + 1) % 3], SEVERITIES[i % 3]] as [
        string,
        string,
        string,
        SeverityName,
      ];
      const m = finding({ host, guest, rule, severity, time: new Date(BASE + 5_000 + i * 61_000) });
      await publishMessage(bus.js, bus.subjects.finding(severity, guest, rule), m);
      published.push({ id: m.id, type: 'finding', host, guest, rule, severity, time: Date.parse(m.time) });
    }
    for (let i = 0; i < 3; i++) {
      const m = agentEvent({ host: 'hv-1', guest: GUESTS[i] as string, time: new Date(BASE + i) });
      await publishMessage(bus.js, bus.subjects.agent('hv-1', 'attached'), m);
      published.push({ id: m.id, type: 'agent', host: 'hv-1', guest: m.guest, rule: null, severity: null, time: Date.parse(m.time) });
    }
    await waitFor('every published event stored', async () => ((await countRows()) >= published.length ? true : undefined));
  });

  afterAll(async () => {
    await ingest?.stop();
    await app?.close();
    await bus?.close();
    await database?.close();
    await storage?.drop();
  });

  const expectIds = (items: AuditEventRecord[], predicate: (p: Published) => boolean) => {
    const expected = published
      .filter(predicate)
      .sort((a, b) => b.time - a.time || (b.id < a.id ? -1 : 1))
      .map((p) => p.id);
    expect(items.map((i) => i.id)).toEqual(expected);
  };

  it('pages through everything newest first with opaque cursors, each event once', async () => {
    const { items, pages } = await allPages(app, '/v1/events', 7);
    expect(pages).toBe(Math.ceil(published.length / 7));
    expectIds(items, () => true);
  });

  it('applies each filter, alone and combined, across pages', async () => {
    const cases: [string, (p: Published) => boolean][] = [
      ['host=hv-2', (p) => p.host === 'hv-2'],
      ['guest=g-b', (p) => p.guest === 'g-b'],
      ['type=finding', (p) => p.type === 'finding'],
      ['severity=critical', (p) => p.severity === 'critical'],
      ['rule=idt', (p) => p.rule === 'idt'],
      ['from=2026-02-01T12:03:00.000Z&to=2026-02-01T12:08:00.000Z', (p) => p.time >= BASE + 180_000 && p.time < BASE + 480_000],
      ['host=hv-1&type=trap&rule=kernel-text', (p) => p.host === 'hv-1' && p.type === 'trap' && p.rule === 'kernel-text'],
      [
        'guest=g-a&severity=high&from=2026-02-01T12:02:00.000Z',
        (p) => p.guest === 'g-a' && p.severity === 'high' && p.time >= BASE + 120_000,
      ],
    ];
    for (const [query, predicate] of cases) {
      const { items } = await allPages(app, `/v1/events?${query}`, 4);
      expect(items.length, query).toBeGreaterThan(0);
      expectIds(items, predicate);
    }
  });

  it('lists only findings under /v1/findings, with the same filters', async () => {
    const { items } = await allPages(app, '/v1/findings?severity=high', 2);
    expectIds(items, (p) => p.type === 'finding' && p.severity === 'high');
  });

  it('returns one event by id with the message as published, and findings only as findings', async () => {
    const trap = published.find((p) => p.type === 'trap') as Published;
    const one = await getJson<AuditEventRecord>(app, `/v1/events/${trap.id}`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ id: trap.id, type: 'trap', host: trap.host, guest: trap.guest, rule: trap.rule, stream: 'traps' });
    expect(one.body.body).toMatchObject({ id: trap.id, region: { rule: trap.rule } });
    expect((await getJson(app, `/v1/findings/${trap.id}`)).status).toBe(404);
    const f = published.find((p) => p.type === 'finding') as Published;
    expect((await getJson<AuditEventRecord>(app, `/v1/findings/${f.id}`)).body.rule).toBe(f.rule);
    expect((await getJson(app, '/v1/events/01900000-0000-7000-8000-000000000000')).status).toBe(404);
  });

  it('counts findings by rule and severity per time bucket', async () => {
    const { status, body } = await getJson<AuditAggregateReply>(app, '/v1/aggregates?bucket=minute');
    expect(status).toBe(200);
    const expected = new Map<string, number>();
    for (const p of published.filter((x) => x.type === 'finding')) {
      const key = `${new Date(Math.floor(p.time / 60_000) * 60_000).toISOString()}|${p.rule}|${p.severity}`;
      expected.set(key, (expected.get(key) ?? 0) + 1);
    }
    const got = new Map(body.groups.map((g) => [`${g.bucket_start}|${g.rule}|${g.severity}`, g.count]));
    expect(got).toEqual(expected);
    const hourly = await getJson<AuditAggregateReply>(app, '/v1/aggregates?bucket=hour&type=trap&host=hv-1');
    expect(hourly.body.groups.reduce((n, g) => n + g.count, 0)).toBe(
      published.filter((p) => p.type === 'trap' && p.host === 'hv-1').length,
    );
  });

  it('stores a message delivered twice once, and keeps the chain linear', async () => {
    const before = await countRows();
    const m = trapEvent({ host: 'hv-1', guest: 'g-dup', rule: 'idt', severity: 'low', time: new Date(BASE) });
    // Published without Nats-Msg-Id, so JetStream keeps every copy and the audit trail must drop them.
    const raw = JSON.stringify(m);
    await bus.js.publish(bus.subjects.trap('hv-1', 'g-dup'), raw);
    await bus.js.publish(bus.subjects.trap('hv-1', 'g-dup'), raw);
    await waitFor('the first copy', async () => ((await countRows()) > before ? true : undefined));
    await bus.js.publish(bus.subjects.trap('hv-1', 'g-dup'), raw);
    const marker = agentEvent({ host: 'hv-1', guest: 'g-dup', time: new Date(BASE) });
    await bus.js.publish(bus.subjects.trap('hv-1', 'g-dup'), JSON.stringify(marker));
    await waitFor('the marker after the third copy', async () =>
      (await getJson(app, `/v1/events/${marker.id}`)).status === 200 ? true : undefined,
    );
    const page = await getJson<AuditEventPage>(app, '/v1/events?guest=g-dup');
    expect(page.body.items.filter((i) => i.id === m.id)).toHaveLength(1);
    expect(await countRows()).toBe(before + 2);
    const verify = await postJson<AuditChainVerifyReply>(app, '/v1/chain/verify', {});
    expect(verify.body).toMatchObject({ ok: true, broken: null, checked: before + 2, anchor: 'genesis' });
  });

  it('dead-letters what fails validation and records the dead letter in the trail', async () => {
    const subject = bus.subjects.trap('hv-9', 'g-bad');
    await bus.js.publish(subject, '{"not json');
    await bus.js.publish(
      subject,
      JSON.stringify({ ...trapEvent({ host: 'hv-9', guest: 'g-bad', rule: 'idt', severity: 'low', time: new Date() }), length: 0 }),
    );
    const nul = finding({ host: 'hv-9', guest: 'g-bad', rule: 'idt', severity: 'low', time: new Date() });
    await bus.js.publish(bus.subjects.finding('low', 'g-bad', 'idt'), JSON.stringify({ ...nul, title: 'nul\u0000byte' }));
    const letters = await waitFor('three dead letters', async () => {
      const page = await getJson<AuditEventPage>(app, '/v1/events?type=deadletter');
      return page.body.items.length >= 3 ? page.body.items : undefined;
    });
    const codes = letters.map((l) => (l.body as { error: { code: string } }).error.code).sort();
    expect(codes).toEqual(['VMI_ERR_AUDIT_UNSTORABLE', 'VMI_ERR_JSON_PARSE', 'VMI_ERR_VALIDATION']);
    expect(letters.every((l) => l.stream === 'deadLetters')).toBe(true);
    expect((await getJson<AuditEventPage>(app, '/v1/events?host=hv-9')).body.items.filter((i) => i.type !== 'deadletter')).toEqual([]);
  });
});
