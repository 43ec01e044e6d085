import type { AuditEventPage, AuditEventRecord } from '@vmi/contracts';
import { createLogger, runBatchConsumer } from '@vmi/service-runtime';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../app.js';
import { AUDITED_STREAMS } from '../config.js';
import type { AuditDatabase } from '../db/open.js';
import { type Ingest, startIngest } from '../ingest/start-ingest.js';
import { ChainWriter } from '../store/append-events.js';
import type { TestBus } from './nats.js';

export const READ_TOKEN = 'read-token-for-tests-0001';
export const ADMIN_TOKEN = 'admin-token-for-tests-0001';
export const TOKENS = [`read:${READ_TOKEN}`, `admin:${ADMIN_TOKEN}`];

/** The app (driven with inject) over a database. */
export function testApp(database: AuditDatabase): Promise<FastifyInstance> {
  return buildApp({ database, tokens: TOKENS, retentionMaxAgeS: 0 });
}

/** Ingest from the bus's streams into the database, as the service runs it. */
export function testIngest(database: AuditDatabase, bus: TestBus, batchSize = 50): Promise<Ingest> {
  const logger = createLogger({ service: 'audit-test', level: 'silent' });
  return startIngest({
    writer: new ChainWriter(database.db),
    streams: AUDITED_STREAMS,
    prefix: bus.prefix,
    batchSize,
    maxAckPending: 500,
    consumeBatches: (options) => runBatchConsumer({ ...options, nc: bus.nc, logger, subjects: bus.subjects, hostName: 'audit-test' }),
  });
}

export async function getJson<T>(
  app: FastifyInstance,
  url: string,
  token: string | null = READ_TOKEN,
): Promise<{ status: number; body: T }> {
  const res = await app.inject({ method: 'GET', url, headers: token === null ? {} : { authorization: `Bearer ${token}` } });
  return { status: res.statusCode, body: res.json() as T };
}

export async function postJson<T>(
  app: FastifyInstance,
  url: string,
  payload: unknown,
  token: string | null = ADMIN_TOKEN,
): Promise<{ status: number; body: T }> {
  const res = await app.inject({
    method: 'POST',
    url,
    payload: payload as Record<string, unknown>,
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
  });
  return { status: res.statusCode, body: res.json() as T };
}

/** Follows next_cursor from the first page to the last, checking each page's size. */
export async function allPages(app: FastifyInstance, path: string, limit: number): Promise<{ items: AuditEventRecord[]; pages: number }> {
  const items: AuditEventRecord[] = [];
  let cursor: string | null = null;
  let pages = 0;
  const sep = path.includes('?') ? '&' : '?';
  do {
    const url: string = `${path}${sep}limit=${limit}${cursor === null ? '' : `&cursor=${cursor}`}`;
    const { status, body }: { status: number; body: AuditEventPage } = await getJson<AuditEventPage>(app, url);
    if (status !== 200) throw new Error(`${url} answered ${status}: ${JSON.stringify(body)}`);
    if (body.items.length > limit) throw new Error(`${url} returned ${body.items.length} items`);
    items.push(...body.items);
    cursor = body.next_cursor;
    pages += 1;
  } while (cursor !== null);
  return { items, pages };
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
