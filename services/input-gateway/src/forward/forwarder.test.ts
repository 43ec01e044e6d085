import { newId, type VmiError } from '@vmi/contracts';
import {
  createTestPki,
  DEFAULT_SUITE,
  type DeliveredRecord,
  encodeKeyRecord,
  keysToText,
  RecordSealer,
  ReferenceServer,
  type TestPki,
  textToKeys,
} from '@vmi/secure-input-server';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createGatewayIdentity, type GatewayIdentity } from '../crypto/identity.js';
import { Forwarder, type ForwardItem } from './forwarder.js';

let pki: TestPki;
let identity: GatewayIdentity;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  [pki, identity] = await Promise.all([createTestPki(), createGatewayIdentity()]);
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Rig {
  readonly server: ReferenceServer;
  readonly forwarder: Forwarder;
  readonly connectionId: string;
  readonly received: DeliveredRecord[];
  readonly delivered: ForwardItem[];
  readonly failures: { error: VmiError; attempts: number; retryInMs: number }[];
  send(text: string): Promise<void>;
}

async function rig(options: { caPem?: string; onInput?: (record: DeliveredRecord, server: ReferenceServer) => void } = {}): Promise<Rig> {
  const received: DeliveredRecord[] = [];
  const holder: { server?: ReferenceServer } = {};
  const server = await ReferenceServer.create({
    tls: { key: pki.serverKeyPem, cert: pki.serverCertPem },
    gatewayPublicKeys: [identity.publicKey],
    onInput: (record) => {
      received.push(record);
      if (holder.server) options.onInput?.(record, holder.server);
    },
  });
  holder.server = server;
  await server.listen();
  cleanups.push(() => server.stop());
  const connectionId = newId();
  const sealer = await RecordSealer.create({
    suite: DEFAULT_SUITE,
    serverPublicKey: server.publicKey,
    senderKey: identity.keyPair,
    connectionId,
    application: 'forwarder-test',
  });
  const delivered: ForwardItem[] = [];
  const failures: Rig['failures'] = [];
  const forwarder = new Forwarder({
    endpoint: new URL(server.recordsUrl),
    caPem: options.caPem ?? pki.caPem,
    header: {
      version: 1,
      connection_id: connectionId,
      application: 'forwarder-test',
      suite: DEFAULT_SUITE,
      sender_key_id: identity.keyId,
      enc: sealer.enc,
    },
    backoff: { baseMs: 20, maxMs: 200 },
    requestTimeoutMs: 2_000,
    maxBatch: 64,
    listener: {
      delivered: (items) => delivered.push(...items),
      failed: (error, attempts, retryInMs) => failures.push({ error, attempts, retryInMs }),
    },
  });
  cleanups.push(() => forwarder.close());
  return {
    server,
    forwarder,
    connectionId,
    received,
    delivered,
    failures,
    async send(text) {
      const record = sealer.seal(encodeKeyRecord(textToKeys(text)));
      forwarder.enqueue({ record, keys: 1, receivedAt: performance.now() });
    },
  };
}

const seqs = (records: readonly DeliveredRecord[]) => records.map((r) => r.seq);
const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe('forwarding sealed records to the server over TLS', () => {
  it('delivers every record once and in order, batching what queues up meanwhile', async () => {
    const r = await rig();
    const words = Array.from({ length: 60 }, (_, i) => `w${i};`);
    for (const word of words) await r.send(word);
    await r.forwarder.drained();
    expect(r.server.textOf(r.connectionId)).toBe(words.join(''));
    expect(seqs(r.received)).toEqual(range(60));
    expect(r.delivered.map((d) => d.record.seq)).toEqual(range(60));
    expect(r.forwarder.ackedSeq).toBe(60);
    expect(r.failures).toEqual([]);
  });

  it('keeps records while the server is down and delivers them, once each, when it is back', async () => {
    const r = await rig();
    await r.send('before ');
    await r.forwarder.drained();
    await r.server.stop();
    for (const word of ['while ', 'the ', 'server ', 'is ', 'down ']) await r.send(word);
    await expect.poll(() => r.failures.length, { timeout: 5_000 }).toBeGreaterThanOrEqual(3);
    expect(r.forwarder.pending).toBe(5);
    expect(r.failures[0]?.error.code).toBe('VMI_ERR_INPUT_SERVER_UNREACHABLE');
    // The kept-alive socket dies first (UND_ERR_SOCKET), then new connections are refused.
    expect(r.failures.map((f) => f.error.details?.reason)).toContain('ECONNREFUSED');
    // Back-off grows and stays within its bounds.
    expect(r.failures.every((f) => f.retryInMs >= 10 && f.retryInMs <= 200)).toBe(true);
    expect(r.failures.map((f) => f.attempts)).toEqual(range(r.failures.length));
    await r.server.listen();
    await r.forwarder.drained();
    expect(r.server.textOf(r.connectionId)).toBe('before while the server is down ');
    expect(seqs(r.received)).toEqual(range(6));
  });

  it('resends a batch whose acknowledgement was lost, and the server delivers it only once', async () => {
    let dropped = false;
    const r = await rig({
      // The server goes down while it answers record 3: it accepted the record, the gateway never hears so.
      onInput: (record, server) => {
        if (record.seq === 3 && !dropped) {
          dropped = true;
          void server.stop();
        }
      },
    });
    for (const word of ['one ', 'two ', 'three ', 'four ']) await r.send(word);
    await expect.poll(() => r.failures.length, { timeout: 5_000 }).toBeGreaterThanOrEqual(1);
    await r.server.listen();
    await r.forwarder.drained();
    expect(r.server.textOf(r.connectionId)).toBe('one two three four ');
    expect(seqs(r.received)).toEqual(range(4));
    expect(r.server.receiver.stats.replayed).toBeGreaterThanOrEqual(1);
  });

  it('refuses a server whose certificate does not chain to the pinned CA', async () => {
    const otherCa = await createTestPki('another');
    const r = await rig({ caPem: otherCa.caPem });
    await r.send('never sent');
    await expect.poll(() => r.failures.length, { timeout: 5_000 }).toBeGreaterThanOrEqual(1);
    expect(r.failures[0]?.error.code).toBe('VMI_ERR_INPUT_SERVER_UNREACHABLE');
    expect(String(r.failures[0]?.error.details?.reason)).toMatch(/CERT|VERIFY|SIGNATURE/);
    expect(r.received).toEqual([]);
    expect(r.forwarder.pending).toBe(1);
    expect(keysToText(r.server.keysOf(r.connectionId))).toBe('');
  });
});
