import { afterEach, describe, expect, it } from 'vitest';
import { type HealthServer, startHealthServer } from './health.js';

describe('the health endpoint', () => {
  let server: HealthServer | undefined;
  afterEach(async () => {
    await server?.close();
  });

  async function get(path: string) {
    const res = await fetch(`${server?.url}${path}`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('answers liveness, and readiness from its checks', async () => {
    let natsUp = true;
    server = await startHealthServer({ port: 0, checks: { nats: () => natsUp } });
    expect(server.port).toBeGreaterThan(0);
    expect(await get('/healthz')).toEqual({ status: 200, body: { status: 'ok' } });
    expect(await get('/readyz')).toEqual({ status: 200, body: { status: 'ready', checks: { nats: true } } });

    natsUp = false;
    expect(await get('/readyz')).toEqual({ status: 503, body: { status: 'not-ready', checks: { nats: false } } });
    natsUp = true;

    server.addCheck('database', async () => {
      throw new Error('connection refused');
    });
    expect(await get('/readyz')).toEqual({ status: 503, body: { status: 'not-ready', checks: { nats: true, database: false } } });
    expect((await get('/nope')).status).toBe(404);
  });

  it('counts a check that hangs as failed', async () => {
    server = await startHealthServer({ port: 0, checkTimeoutMs: 100, checks: { slow: () => new Promise<boolean>(() => {}) } });
    expect(await get('/readyz')).toEqual({ status: 503, body: { status: 'not-ready', checks: { slow: false } } });
  });

  it('reports not ready once shutdown starts, while still live', async () => {
    server = await startHealthServer({ port: 0, checks: { nats: () => true } });
    server.setShuttingDown();
    expect((await get('/readyz')).body.status).toBe('shutting-down');
    expect((await get('/readyz')).status).toBe(503);
    expect((await get('/healthz')).status).toBe(200);
  });
});
