import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Service } from '@nats-io/services';
import type { Msg, Subscription } from '@nats-io/transport-node';
import { type AuditDatabase, auditEvents, ChainWriter, type Ingest, openDatabase, startIngest } from '@vmi/audit';
import { ensureGuestImage, type Guest, launchGuest } from '@vmi/guest';
import { createTestPki, type DeliveredRecord, ReferenceServer, textToKeys } from '@vmi/secure-input-server';
import { jetstreamManager, runBatchConsumer } from '@vmi/service-runtime';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlService } from './control/control-service.js';
import { createGatewayIdentity } from './crypto/identity.js';
import { InputGateway } from './gateway.js';
import { buildKeyEndpoint, listenKeyEndpoint } from './http/key-endpoint.js';
import { capturedLogger, inputSandbox } from './test-support.js';

// Everything real: a QEMU guest with a keylogger reading /dev/input/event0, NATS with a JetStream
// stream, the audit trail ingesting it into embedded Postgres (PGlite), a reference server over TLS
// with a CA made for this run, the gateway's HTTP key endpoint.

const GUEST = 'guest-1';
const CANARY = 'Canary-7f3eQ9-XYZZY!';
const KEY_KPASTERISK = 55;

/** Linux evdev key codes of the US keys these tests type, for reading the guest's keylog back as text. */
const EVDEV: Record<number, [string, string]> = {
  2: ['1', '!'],
  3: ['2', '@'],
  4: ['3', '#'],
  5: ['4', '$'],
  6: ['5', '%'],
  7: ['6', '^'],
  8: ['7', '&'],
  9: ['8', '*'],
  10: ['9', '('],
  11: ['0', ')'],
  12: ['-', '_'],
  13: ['=', '+'],
  16: ['q', 'Q'],
  17: ['w', 'W'],
  18: ['e', 'E'],
  19: ['r', 'R'],
  20: ['t', 'T'],
  21: ['y', 'Y'],
  22: ['u', 'U'],
  23: ['i', 'I'],
  24: ['o', 'O'],
  25: ['p', 'P'],
  30: ['a', 'A'],
  31: ['s', 'S'],
  32: ['d', 'D'],
  33: ['f', 'F'],
  34: ['g', 'G'],
  35: ['h', 'H'],
  36: ['j', 'J'],
  37: ['k', 'K'],
  38: ['l', 'L'],
  44: ['z', 'Z'],
  45: ['x', 'X'],
  46: ['c', 'C'],
  47: ['v', 'V'],
  48: ['b', 'B'],
  49: ['n', 'N'],
  50: ['m', 'M'],
  51: [',', '<'],
  52: ['.', '>'],
  53: ['/', '?'],
  57: [' ', ' '],
};
const LEFT_SHIFT = 42;

function keylogText(lines: readonly string[]): string {
  let shift = false;
  let text = '';
  for (const line of lines) {
    const match = /^KEY (\d+) (\d)$/.exec(line);
    if (!match) continue;
    const [code, value] = [Number(match[1]), Number(match[2])];
    if (code === LEFT_SHIFT) shift = value !== 0;
    else if (value === 1) text += EVDEV[code]?.[shift ? 1 : 0] ?? `<${code}>`;
  }
  return text;
}

const keyLines = (lines: readonly string[]) => lines.filter((l) => l.startsWith('KEY '));

type Sandbox = Awaited<ReturnType<typeof inputSandbox>>;
let sandbox: Sandbox;
let guest: Guest;
let server: ReferenceServer;
let gateway: InputGateway;
let control: Service;
let endpoint: FastifyInstance;
let endpointUrl: string;
let caPem: string;
let logText: () => string;
let natsCapture: Subscription;
let auditDir: string;
let audit: AuditDatabase;
let auditIngest: Ingest;
const natsSeen: string[] = [];
const errorsSeen: string[] = [];
const received: DeliveredRecord[] = [];

beforeAll(async () => {
  auditDir = await mkdtemp(join(tmpdir(), 'vmi-input-audit-'));
  const [image, pki, identity, database] = await Promise.all([
    ensureGuestImage(),
    createTestPki(),
    createGatewayIdentity(),
    openDatabase({ dataDir: auditDir }),
  ]);
  audit = database;
  caPem = pki.caPem;
  guest = await launchGuest({ image, name: 'input-gateway-test', gdb: false });
  const captured = capturedLogger();
  logText = captured.text;
  sandbox = await inputSandbox(captured.logger);
  auditIngest = await startIngest({
    writer: new ChainWriter(audit.db),
    streams: ['input'],
    prefix: sandbox.prefix,
    batchSize: 100,
    maxAckPending: 500,
    consumeBatches: (options) =>
      runBatchConsumer({ ...options, nc: sandbox.nc, logger: captured.logger, subjects: sandbox.subjects, hostName: 'test-host' }),
  });
  // Every message under this run's prefix (events, control requests), headers included.
  natsCapture = sandbox.nc.subscribe(`${sandbox.prefix}.>`, {
    callback: (_err, msg: Msg) => {
      natsSeen.push(`${msg.subject} ${msg.headers?.toString() ?? ''} ${msg.string()}`);
    },
  });
  server = await ReferenceServer.create({
    tls: { key: pki.serverKeyPem, cert: pki.serverCertPem },
    gatewayPublicKeys: [identity.publicKey],
    onInput: (record) => received.push(record),
  });
  await server.listen();
  gateway = await InputGateway.create({
    js: sandbox.js,
    subjects: sandbox.subjects,
    host: 'test-host',
    logger: captured.logger,
    identity,
    settings: { backoff: { baseMs: 20, maxMs: 200 }, forwardedEventMs: 50 },
  });
  control = await startControlService(sandbox.nc, sandbox.subjects, gateway, captured.logger);
  endpoint = buildKeyEndpoint(gateway);
  endpointUrl = await listenKeyEndpoint(endpoint, '127.0.0.1', 0);
  const [qmpSocket] = guest.qmpPaths;
  expect(await ctl('attach', { guest: GUEST, qmp_socket: qmpSocket })).toEqual({ guest: GUEST, focused: null, refusing: false });
});

afterAll(async () => {
  await endpoint?.close();
  await control?.stop();
  await gateway?.stop();
  natsCapture?.unsubscribe();
  await auditIngest?.stop();
  await sandbox?.close();
  await audit?.close();
  if (auditDir) await rm(auditDir, { recursive: true, force: true });
  await server?.stop();
  await guest?.close();
});

async function ctl(operation: string, body: unknown): Promise<Record<string, unknown>> {
  const reply = await sandbox.nc.request(`${sandbox.prefix}.ctl.input.${operation}`, JSON.stringify(body), { timeout: 10_000 });
  const text = reply.string();
  natsSeen.push(`reply ${text}`);
  const parsed = JSON.parse(text) as Record<string, unknown>;
  if (parsed.error) errorsSeen.push(text);
  return parsed;
}

async function type(body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(`${endpointUrl}/v1/guests/${GUEST}/keys`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== 200) errorsSeen.push(text);
  return { status: response.status, json: JSON.parse(text) as Record<string, unknown> };
}

async function openConnection(ttl_s = 120): Promise<string> {
  const info = await ctl('open', {
    guest: GUEST,
    application: 'bank-app',
    endpoint: server.recordsUrl,
    server_public_key: server.publicKey,
    suite: { kem: 'DHKEM-X25519-HKDF-SHA256', kdf: 'HKDF-SHA256', aead: 'AES-256-GCM' },
    ttl_s,
    tls_ca_pem: caPem,
    focus: true,
  });
  expect(info).toMatchObject({ state: 'active', focused: true, guest: GUEST });
  return info.connection_id as string;
}

/** Starts the guest's keylogger for exactly `events` key events. */
async function keylog(events: number) {
  const job = guest.spawn(`keylog ${events}`);
  await job.waitForLine(/^KEYLOG ready/);
  return job;
}

async function streamMessages(): Promise<{ subject: string; data: string }[]> {
  const jsm = await jetstreamManager(sandbox.nc);
  const info = await jsm.streams.info(sandbox.stream.name);
  const out: { subject: string; data: string }[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(sandbox.stream.name, { seq });
    if (m) out.push({ subject: m.subject, data: m.string() });
  }
  return out;
}

const SECRET_TEXT = `My PIN is 2468, password ${CANARY} ok.`;
let secureConnection = '';

describe('secure input through the gateway, with a real guest, NATS and TLS server', () => {
  it('sends typed text to the server exactly and in order, while the guest sees only placeholders', async () => {
    secureConnection = await openConnection();
    const chunks = SECRET_TEXT.match(/.{1,5}/g) ?? [];
    const characters = [...SECRET_TEXT].length;
    const job = await keylog(2 * characters);
    for (const [i, chunk] of chunks.entries()) {
      // Both forms a console may send: text, and raw key events.
      const reply = await type(i % 2 === 0 ? { text: chunk } : { keys: textToKeys(chunk) });
      expect(reply.json).toMatchObject({ route: 'secure', connection_id: secureConnection, seq: i + 1 });
    }
    await gateway.delivered(secureConnection);
    expect(server.textOf(secureConnection)).toBe(SECRET_TEXT);
    expect(received.map((r) => r.seq)).toEqual(chunks.map((_, i) => i + 1));
    expect(await job.exited).toBe(0);
    const lines = keyLines(job.lines);
    expect(lines).toHaveLength(2 * characters);
    expect(lines.every((l) => l.startsWith(`KEY ${KEY_KPASTERISK} `))).toBe(true);
    expect(keylogText(job.lines)).not.toContain('PIN');
  });

  it('passes the same text to the guest unchanged when no secure connection has focus', async () => {
    expect(await ctl('focus', { guest: GUEST, connection_id: null })).toEqual({ guest: GUEST, focused: null, refusing: false });
    const plain = SECRET_TEXT.replace(CANARY, 'not-the-canary');
    const job = await keylog(textToKeys(plain).length);
    const reply = await type({ text: plain });
    expect(reply.json).toEqual({ guest: GUEST, route: 'guest', connection_id: null, seq: null, keys: textToKeys(plain).length });
    expect(await job.exited).toBe(0);
    expect(keylogText(job.lines)).toBe(plain);
    expect(server.textOf(secureConnection)).toBe(SECRET_TEXT);
  });

  it('holds keys while the server is down and delivers each exactly once when it is back, even after a close', async () => {
    expect(await ctl('focus', { guest: GUEST, connection_id: secureConnection })).toMatchObject({ focused: secureConnection });
    const before = received.length;
    await server.stop();
    for (const word of ['while ', 'the ', 'server ', 'was ', 'down']) expect((await type({ text: word })).status).toBe(200);
    await expect.poll(() => natsSeen.some((m) => m.includes('.input.guest-1.failed')), { timeout: 10_000 }).toBe(true);
    // Closing refuses new input at once; what was typed before the close is still delivered.
    const closed = await ctl('close', { connection_id: secureConnection });
    expect(closed).toMatchObject({ state: 'closed' });
    expect(closed.pending).toBeGreaterThan(0);
    expect((await type({ text: 'after the close' })).json).toMatchObject({ error: { code: 'VMI_ERR_INPUT_CONNECTION_CLOSED' } });
    await server.listen();
    await gateway.delivered(secureConnection);
    expect(server.textOf(secureConnection)).toBe(`${SECRET_TEXT}while the server was down`);
    const seqs = received.filter((r) => r.connectionId === secureConnection).map((r) => r.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    expect(received.length - before).toBe(5);
  });

  it('refuses input for a connection that expired or was closed, with a clear error', async () => {
    const expiring = await openConnection(1);
    await expect
      .poll(async () => (await type({ text: 'late' })).json, { timeout: 5_000, interval: 200 })
      .toMatchObject({
        error: { code: 'VMI_ERR_INPUT_CONNECTION_EXPIRED', status: 410 },
      });
    expect(await ctl('status', { guest: GUEST })).toMatchObject({ guests: [{ guest: GUEST, focused: expiring, refusing: true }] });
    await expect
      .poll(() => natsSeen.some((m) => m.includes('.input.guest-1.closed') && m.includes(expiring) && m.includes('"expired"')))
      .toBe(true);

    const closing = await openConnection();
    expect(await ctl('close', { connection_id: closing })).toMatchObject({ state: 'closed', connection_id: closing });
    const refused = await type({ text: 'after close' });
    expect(refused.status).toBe(410);
    expect(refused.json).toMatchObject({ error: { code: 'VMI_ERR_INPUT_CONNECTION_CLOSED' } });
    expect(await ctl('focus', { guest: GUEST, connection_id: closing })).toMatchObject({
      error: { code: 'VMI_ERR_INPUT_CONNECTION_CLOSED' },
    });
    expect(await ctl('focus', { guest: GUEST, connection_id: null })).toMatchObject({ focused: null, refusing: false });
  });

  it('publishes opened, forwarded, failed and closed events whose counts add up', async () => {
    await expect.poll(() => natsSeen.some((m) => m.includes('.input.guest-1.closed') && m.includes(secureConnection))).toBe(true);
    await gateway.eventsFlushed();
    const events = (await streamMessages()).map((m) => JSON.parse(m.data) as Record<string, unknown>);
    const mine = events.filter((e) => e.connection_id === secureConnection);
    const kinds = mine.map((e) => e.event);
    expect(kinds[0]).toBe('opened');
    expect(kinds.at(-1)).toBe('closed');
    expect(kinds).toContain('failed');
    const forwarded = mine.filter((e) => e.event === 'forwarded');
    const delivered = received.filter((r) => r.connectionId === secureConnection);
    const records = delivered.length;
    expect(forwarded.reduce((n, e) => n + (e.records as number), 0)).toBe(records);
    expect(forwarded.reduce((n, e) => n + (e.keys as number), 0)).toBe(delivered.reduce((n, r) => n + r.keys.length, 0));
    expect(mine.find((e) => e.event === 'failed')).toMatchObject({ error: { code: 'VMI_ERR_INPUT_SERVER_UNREACHABLE', status: 503 } });
    expect(mine.at(-1)).toMatchObject({ event: 'closed', reason: 'requested', pending: 0, acked_seq: records });
  });

  it('never lets the canary into logs, NATS messages, the event stream, the audit database or error messages', async () => {
    await gateway.eventsFlushed();
    const stream = (await streamMessages()).map((m) => `${m.subject} ${m.data}`);
    const auditRows = async () => audit.db.select().from(auditEvents);
    await expect.poll(async () => (await auditRows()).length, { timeout: 15_000 }).toBe(stream.length);
    const rows = await auditRows();
    expect(rows.some((r) => JSON.stringify(r.body).includes(secureConnection))).toBe(true);
    const haystacks = {
      logs: logText(),
      nats: natsSeen.join('\n'),
      stream: stream.join('\n'),
      audit: JSON.stringify(rows),
      errors: errorsSeen.join('\n'),
    };
    expect(stream.length).toBeGreaterThan(5);
    expect(natsSeen.length).toBeGreaterThan(5);
    expect(haystacks.logs.length).toBeGreaterThan(100);
    for (const [where, text] of Object.entries(haystacks)) {
      expect(text, where).not.toContain(CANARY);
      expect(text, where).not.toContain('XYZZY');
      expect(text.toLowerCase(), where).not.toContain('password');
      // Nor the keys themselves, in any encoding a key event would have.
      expect(text, where).not.toMatch(/"qcode"|"keys":\[|kp_multiply/);
    }
  });
});
