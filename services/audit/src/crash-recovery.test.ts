import type { AuditAggregateReply, AuditChainVerifyReply, AuditEventPage } from '@vmi/contracts';
import { publishMessage } from '@vmi/service-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditProcess, startAuditProcess, stopAuditProcess } from './test-support/audit-process.js';
import { BACKENDS, createTestStorage, type TestStorage } from './test-support/databases.js';
import { ADMIN_TOKEN, READ_TOKEN, TOKENS, waitFor } from './test-support/harness.js';
import { trapEvent } from './test-support/messages.js';
import { createTestBus, TEST_NATS_URL, type TestBus } from './test-support/nats.js';

const BEFORE_CRASH = 4000;
const WHILE_DOWN = 500;
const DAY_START = Date.UTC(2026, 2, 1);

async function api<T>(p: AuditProcess, path: string, init: { method?: string; body?: string; token?: string } = {}): Promise<T> {
  const res = await fetch(`${p.url}${path}`, {
    method: init.method ?? 'GET',
    headers: {
      authorization: `Bearer ${init.token ?? READ_TOKEN}`,
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(init.body === undefined ? {} : { body: init.body }),
  });
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function storedTraps(p: AuditProcess): Promise<number> {
  const r = await api<AuditAggregateReply>(p, '/v1/aggregates?type=trap&bucket=day');
  return r.groups.reduce((n, g) => n + g.count, 0);
}

async function publishTraps(bus: TestBus, count: number, offset: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 200) {
    const chunk = Array.from({ length: Math.min(200, count - i) }, (_, j) =>
      trapEvent({
        host: 'hv-1',
        guest: `g-${(i + j) % 7}`,
        rule: 'idt',
        severity: 'high',
        time: new Date(DAY_START + (offset + i + j) * 10),
        seq: offset + i + j,
      }),
    );
    await Promise.all(chunk.map((m) => publishMessage(bus.js, bus.subjects.trap(m.host, m.guest), m)));
    ids.push(...chunk.map((m) => m.id));
  }
  return ids;
}

describe.each(BACKENDS)('killing the service mid-ingest loses nothing and duplicates nothing (%s)', (backend) => {
  let storage: TestStorage;
  let bus: TestBus;
  let first: AuditProcess | undefined;
  let second: AuditProcess | undefined;

  beforeAll(async () => {
    storage = await createTestStorage(backend);
    bus = await createTestBus();
  });

  afterAll(async () => {
    await stopAuditProcess(first, 'SIGKILL');
    await stopAuditProcess(second, 'SIGKILL');
    await bus?.close();
    await storage?.drop();
  });

  it('stores every message exactly once across a SIGKILL and a restart', async () => {
    const env = {
      NATS_URL: TEST_NATS_URL,
      SUBJECT_PREFIX: bus.prefix,
      DATABASE_URL: storage.databaseUrl,
      AUDIT_DATA_DIR: storage.dataDir,
      AUDIT_TOKENS: TOKENS.join(','),
      // Small batches: many commits to land the kill between.
      AUDIT_BATCH_SIZE: '50',
    };
    const published = await publishTraps(bus, BEFORE_CRASH, 0);
    first = await startAuditProcess(env);
    const running = first;
    const atKill = await waitFor(
      'ingest under way',
      async () => {
        const n = await storedTraps(running);
        return n > 0 ? n : undefined;
      },
      60_000,
    );
    running.child.kill('SIGKILL');
    expect(await running.exited).toBeNull();
    expect(atKill, 'the kill must land while messages are still waiting').toBeLessThan(BEFORE_CRASH);

    published.push(...(await publishTraps(bus, WHILE_DOWN, BEFORE_CRASH)));
    second = await startAuditProcess(env);
    const restarted = second;
    await waitFor('every message stored', async () => ((await storedTraps(restarted)) >= published.length ? true : undefined), 120_000);

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: AuditEventPage = await api<AuditEventPage>(
        restarted,
        `/v1/events?type=trap&limit=1000${cursor === null ? '' : `&cursor=${cursor}`}`,
      );
      seen.push(...page.items.map((i) => i.id));
      cursor = page.next_cursor;
    } while (cursor !== null);
    expect(seen.length).toBe(published.length);
    expect(new Set(seen)).toEqual(new Set(published));

    const verify = await api<AuditChainVerifyReply>(restarted, '/v1/chain/verify', { method: 'POST', body: '{}', token: ADMIN_TOKEN });
    expect(verify).toMatchObject({ ok: true, checked: published.length, broken: null });

    expect(await stopAuditProcess(restarted, 'SIGTERM')).toBe(0);
    // Two service starts (PGlite opens, tsx compiles) on a shared two-core machine.
  }, 300_000);
});
