import type { AuditApiError } from '@vmi/contracts';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditDatabase } from '../db/open.js';
import { BACKENDS, createTestStorage, type TestStorage } from '../test-support/databases.js';
import { ADMIN_TOKEN, READ_TOKEN, testApp } from '../test-support/harness.js';

const READ_ROUTES = [
  '/v1/events',
  '/v1/findings',
  '/v1/aggregates',
  '/v1/events/0192f4a1-7c3e-7d2a-9b1e-3f5a6c7d8e9f',
  '/v1/findings/0192f4a1-7c3e-7d2a-9b1e-3f5a6c7d8e9f',
];
const ADMIN_ROUTES = ['/v1/chain/verify', '/v1/retention/run'];

describe.each(BACKENDS)('bearer tokens guard the API by scope (%s)', (backend) => {
  let storage: TestStorage;
  let database: AuditDatabase;
  let app: FastifyInstance;
  const call = async (method: 'GET' | 'POST', url: string, authorization?: string) => {
    const res = await app.inject({
      method,
      url,
      headers: {
        ...(authorization === undefined ? {} : { authorization }),
        ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
      },
      ...(method === 'POST' ? { payload: url.endsWith('/retention/run') ? '{"max_age_s":86400000}' : '{}' } : {}),
    });
    return { status: res.statusCode, body: res.json() as AuditApiError & Record<string, unknown>, headers: res.headers };
  };

  beforeAll(async () => {
    storage = await createTestStorage(backend);
    database = await storage.open();
    app = await testApp(database);
  });

  afterAll(async () => {
    await app?.close();
    await database?.close();
    await storage?.drop();
  });

  it('answers 401 with a Bearer challenge without a valid token', async () => {
    for (const [method, url] of [...READ_ROUTES.map((u) => ['GET', u] as const), ...ADMIN_ROUTES.map((u) => ['POST', u] as const)]) {
      for (const authorization of [
        undefined,
        '',
        'Bearer',
        `Bearer ${READ_TOKEN}x`,
        `Basic ${Buffer.from(`u:${READ_TOKEN}`).toString('base64')}`,
        READ_TOKEN,
        `Bearer  ${READ_TOKEN}`,
      ]) {
        const r = await call(method, url, authorization);
        expect(r.status, `${method} ${url} ${authorization}`).toBe(401);
        expect(r.body.code).toBe('VMI_ERR_AUDIT_UNAUTHORIZED');
        expect(r.headers['www-authenticate']).toBe('Bearer');
      }
    }
  });

  it('answers 403 to a read token on admin routes, and lets admin tokens read', async () => {
    for (const url of ADMIN_ROUTES) {
      const r = await call('POST', url, `Bearer ${READ_TOKEN}`);
      expect(r.status).toBe(403);
      expect(r.body.code).toBe('VMI_ERR_AUDIT_FORBIDDEN');
      expect((await call('POST', url, `Bearer ${ADMIN_TOKEN}`)).status).toBe(200);
    }
    for (const url of READ_ROUTES) {
      const expected = url.includes('0192') ? 404 : 200;
      expect((await call('GET', url, `Bearer ${READ_TOKEN}`)).status).toBe(expected);
      expect((await call('GET', url, `Bearer ${ADMIN_TOKEN}`)).status).toBe(expected);
    }
  });

  it('serves health, readiness and the OpenAPI document without a token', async () => {
    expect((await call('GET', '/healthz')).status).toBe(200);
    const ready = await call('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ok', checks: { database: true } });
    const doc = await call('GET', '/openapi.json');
    expect(doc.status).toBe(200);
    const paths = Object.keys(doc.body.paths as Record<string, unknown>).sort();
    expect(paths).toEqual(
      [
        '/healthz',
        '/readyz',
        '/v1/aggregates',
        '/v1/chain/verify',
        '/v1/events',
        '/v1/events/{id}',
        '/v1/findings',
        '/v1/findings/{id}',
        '/v1/retention/run',
      ].sort(),
    );
    const events = (doc.body.paths as Record<string, { get: { parameters: { name: string }[]; security: unknown } }>)['/v1/events'];
    expect(events?.get.parameters.map((p) => p.name).sort()).toEqual([
      'cursor',
      'from',
      'guest',
      'host',
      'limit',
      'rule',
      'severity',
      'to',
      'type',
    ]);
    expect(events?.get.security).toEqual([{ bearer: [] }]);
    const missing = await call('GET', '/v1/nothing');
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('VMI_ERR_AUDIT_NOT_FOUND');
  });
});
