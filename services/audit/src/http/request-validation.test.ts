import type { AuditApiError, AuditEventPage } from '@vmi/contracts';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditDatabase } from '../db/open.js';
import { ChainWriter } from '../store/append-events.js';
import { BACKENDS, createTestStorage, type TestStorage } from '../test-support/databases.js';
import { ADMIN_TOKEN, getJson, READ_TOKEN, testApp } from '../test-support/harness.js';
import { trapEvent } from '../test-support/messages.js';

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
const SQL_ATTEMPTS = ["' OR '1'='1", "x'; DROP TABLE audit_events;--", '1 OR 1=1', '1); DELETE FROM audit_events; --'];

/** Bad values per query field: each must be answered 400 naming that field. */
const BAD_FILTERS: Record<string, string[]> = {
  from: ['yesterday', '2026-13-01T00:00:00Z', '', ...SQL_ATTEMPTS, "2026-01-01T00:00:00Z' OR '1'='1"],
  to: ['now()', '2026-01-01', ...SQL_ATTEMPTS],
  host: ['', 'a\u0000b', 'tab\there', 'x'.repeat(254)],
  guest: ['', 'line\nbreak', 'x'.repeat(254)],
  severity: ['severe', 'CRITICAL', '', ...SQL_ATTEMPTS],
  rule: ['-leading', 'a b', 'x'.repeat(129), ...SQL_ATTEMPTS],
  cursor: [
    'not base64!',
    '',
    'A'.repeat(600),
    b64('{"a":1}'),
    b64('["2026-01-01T00:00:00.000Z","1\' OR \'1\'=\'1"]'),
    b64('["x","y"]'),
    ...SQL_ATTEMPTS,
  ],
  limit: ['0', '-1', '1001', 'abc', '1.5', '10; DROP TABLE audit_events', ''],
};
const BAD_TYPES = ['TRAP', 'a b', 'x'.repeat(65), '', ...SQL_ATTEMPTS];
const BAD_CODES = ['VMI_ERR_AUDIT_BAD_REQUEST', 'VMI_ERR_AUDIT_BAD_CURSOR', 'VMI_ERR_AUDIT_BAD_RANGE'];

describe.each(BACKENDS)('malformed and hostile requests get 400 naming the field, never 500 (%s)', (backend) => {
  let storage: TestStorage;
  let database: AuditDatabase;
  let app: FastifyInstance;
  const stored = 5;

  const request = async (method: 'GET' | 'POST', url: string, payload?: string, contentType = 'application/json') => {
    const res = await app.inject({
      method,
      url,
      ...(payload === undefined ? {} : { payload, headers: { 'content-type': contentType } }),
      headers: {
        authorization: `Bearer ${method === 'GET' ? READ_TOKEN : ADMIN_TOKEN}`,
        ...(payload === undefined ? {} : { 'content-type': contentType }),
      },
    });
    return { status: res.statusCode, body: res.json() as AuditApiError };
  };
  const expect400 = async (url: string, path: string | undefined, method: 'GET' | 'POST' = 'GET', payload?: string) => {
    const r = await request(method, url, payload);
    expect(r.status, `${method} ${url} ${payload ?? ''}`).toBe(400);
    expect(BAD_CODES, url).toContain(r.body.code);
    if (path !== undefined) expect(r.body.path, `${url} ${payload ?? ''}`).toBe(path);
  };

  beforeAll(async () => {
    storage = await createTestStorage(backend);
    database = await storage.open();
    app = await testApp(database);
    const writer = new ChainWriter(database.db);
    await writer.append(
      Array.from({ length: stored }, (_, i) => {
        const m = trapEvent({ host: 'hv-1', guest: 'g-1', rule: 'idt', severity: 'low', time: new Date(Date.UTC(2026, 0, 1, 0, i)) });
        return { ...m, stream: 'traps', subject: 's', time: new Date(m.time), severity: 'low', rule: 'idt', body: m };
      }),
    );
  });

  afterAll(async () => {
    await app?.close();
    await database?.close();
    await storage?.drop();
  });

  it('refuses every bad value of every filter on /v1/events, /v1/findings and /v1/aggregates', async () => {
    for (const [field, values] of Object.entries(BAD_FILTERS)) {
      for (const value of values) {
        const qs = new URLSearchParams({ [field]: value }).toString();
        await expect400(`/v1/events?${qs}`, `/querystring/${field}`);
        await expect400(`/v1/findings?${qs}`, `/querystring/${field}`);
        if (field !== 'cursor' && field !== 'limit') await expect400(`/v1/aggregates?${qs}`, `/querystring/${field}`);
      }
    }
    for (const value of BAD_TYPES) {
      const qs = new URLSearchParams({ type: value }).toString();
      await expect400(`/v1/events?${qs}`, '/querystring/type');
      await expect400(`/v1/aggregates?${qs}`, '/querystring/type');
    }
    for (const value of ['week', "hour'; --", 'HOUR'])
      await expect400(`/v1/aggregates?bucket=${encodeURIComponent(value)}`, '/querystring/bucket');
  });

  it('refuses unknown, repeated and contradictory parameters', async () => {
    await expect400('/v1/events?order=asc', '/querystring/order');
    await expect400('/v1/findings?type=trap', '/querystring/type');
    await expect400('/v1/events?host=a&host=b', '/querystring/host');
    await expect400('/v1/events?limit=5&limit=6', '/querystring/limit');
    await expect400('/v1/events?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z', '/querystring/to');
    await expect400('/v1/aggregates?from=2026-01-02T00:00:00Z&to=2026-01-02T00:00:00Z', '/querystring/to');
  });

  it('refuses ids that are not UUIDs', async () => {
    for (const id of ['not-a-uuid', "1' OR '1'='1", '123', `${'a'.repeat(36)}`, '00000000-0000-0000-0000-00000000000g']) {
      await expect400(`/v1/events/${encodeURIComponent(id)}`, '/params/id');
      await expect400(`/v1/findings/${encodeURIComponent(id)}`, '/params/id');
    }
  });

  it('refuses bad admin bodies', async () => {
    const cases: [string, string | undefined][] = [
      ['{"from_seq":-1}', '/body/from_seq'],
      ['{"from_seq":"1 OR 1=1"}', '/body/from_seq'],
      ['{"to_seq":1.5}', '/body/to_seq'],
      ['{"from_seq":{}}', '/body/from_seq'],
      ['{"repair":true}', '/body/repair'],
      ['{"from_seq":9,"to_seq":3}', '/body/to_seq'],
      ['[]', '/body'],
      ['{"from_seq":', undefined],
    ];
    for (const [payload, path] of cases) await expect400('/v1/chain/verify', path, 'POST', payload);
    await expect400('/v1/retention/run', '/body/max_age_s', 'POST', '{"max_age_s":0}');
    await expect400('/v1/retention/run', '/body/max_age_s', 'POST', '{"max_age_s":"1; DELETE FROM audit_events"}');
    const wrongType = await request('POST', '/v1/chain/verify', '<from_seq>1</from_seq>', 'application/xml');
    expect(wrongType.status).toBe(415);
    expect(wrongType.body.code).toBe('VMI_ERR_AUDIT_BAD_REQUEST');
  });

  it('treats hostile text in free-form names as a name: no match, nothing run', async () => {
    for (const value of SQL_ATTEMPTS) {
      for (const field of ['host', 'guest']) {
        const r = await getJson<AuditEventPage>(app, `/v1/events?${new URLSearchParams({ [field]: value })}`);
        expect(r.status).toBe(200);
        expect(r.body.items).toEqual([]);
      }
    }
    expect((await getJson<AuditEventPage>(app, '/v1/events')).body.items).toHaveLength(stored);
  });
});
