/**
 * Secure input: a key event from the moment the key endpoint takes it (the operation its HTTP route
 * runs) until its plaintext is in the reference server's hands (seal, ordered delivery over TLS
 * with a pinned CA, verify and open), beside the floor: a bare GET over the very same kept-alive
 * TLS connection, measured in the same run, interleaved key by key. `key_http_to_server_ms` adds
 * the console's own loopback HTTP request to the endpoint. Throughput: key events posted over HTTP
 * 16 at a time until the server has them all. A real guest gets the placeholders; events go to a
 * real JetStream stream.
 */
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { Subjects, streamDefinition } from '@vmi/contracts';
import { ensureGuestImage, launchGuest } from '@vmi/guest';
import { buildKeyEndpoint, createGatewayIdentity, InputGateway, listenKeyEndpoint } from '@vmi/input-gateway';
import { createTestPki, PING_PATH, ReferenceServer } from '@vmi/secure-input-server';
import { connectNats, createLogger, deleteStreams, ensureStreams, jetstream } from '@vmi/service-runtime';
import { nowMs, runBench } from './harness.js';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const LATENCY_KEYS = Number(process.env.BENCH_KEYS ?? 300);
const THROUGHPUT_KEYS = Number(process.env.BENCH_THROUGHPUT_KEYS ?? 2000);
const CONCURRENCY = 16;
const GUEST = 'bench-guest';

const logger = createLogger({ service: 'bench-input', level: 'warn' });
const nc = await connectNats({ servers: NATS_URL, name: 'bench-input', logger });
const prefix = `b${randomBytes(4).toString('hex')}`;
const stream = streamDefinition('input', prefix);
await ensureStreams(nc, [stream]);
const [image, pki, identity] = await Promise.all([ensureGuestImage(), createTestPki(), createGatewayIdentity()]);
const guest = await launchGuest({ image, name: 'bench-input', gdb: false });

/** Resolves the waiter of a record's sequence number when the server hands its plaintext over. */
const arrivals = new Map<number, (at: number) => void>();
let received = 0;
const server = await ReferenceServer.create({
  tls: { key: pki.serverKeyPem, cert: pki.serverCertPem },
  gatewayPublicKeys: [identity.publicKey],
  onInput: (record) => {
    received++;
    arrivals.get(record.seq)?.(nowMs());
    arrivals.delete(record.seq);
  },
});
await server.listen();
const gateway = await InputGateway.create({ js: jetstream(nc), subjects: new Subjects(prefix), host: 'bench-host', logger, identity });
const endpoint = buildKeyEndpoint(gateway);
const endpointUrl = new URL(await listenKeyEndpoint(endpoint, '127.0.0.1', 0));
const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

function postKey(qcode: string): Promise<{ seq: number }> {
  const body = JSON.stringify({ keys: [{ qcode, down: true }] });
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: endpointUrl.hostname,
        port: endpointUrl.port,
        path: `/v1/guests/${GUEST}/keys`,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(text) as { seq: number }) : reject(new Error(text))));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

let connectionId = '';
let nextSeq = 1;

try {
  await gateway.attach({ guest: GUEST, qmp_socket: guest.qmpPaths[0] });
  const info = await gateway.open({
    guest: GUEST,
    application: 'bench-app',
    endpoint: server.recordsUrl,
    server_public_key: server.publicKey,
    suite: { kem: 'DHKEM-X25519-HKDF-SHA256', kdf: 'HKDF-SHA256', aead: 'AES-256-GCM' },
    ttl_s: 3600,
    tls_ca_pem: pki.caPem,
    focus: true,
  });
  connectionId = info.connection_id;

  await runBench({
    name: 'input',
    description: `${LATENCY_KEYS} key events per run, one at a time, from the key endpoint's operation to plaintext at the reference server over TLS, each followed by a bare GET over the same kept-alive TLS connection (the floor) and by one more key posted over loopback HTTP (key_http_to_server_ms); then ${THROUGHPUT_KEYS} key events posted over HTTP ${CONCURRENCY} at a time`,
    runs: 5,
    warmup: 1,
    units: { key_to_server_ms: 'ms', key_http_to_server_ms: 'ms', tls_floor_ms: 'ms', keys_per_s: 'keys/s', key_to_floor_p99_ratio: 'x' },
    targets: [{ name: 'key to server p99 within 2x of the TLS floor p99', expression: 'key_to_floor_p99_ratio <= 2' }],
    run: async () => {
      const keyMs: number[] = [];
      const httpMs: number[] = [];
      const floorMs: number[] = [];
      const key = async (send: () => Promise<{ seq: number | null }>, into: number[]) => {
        const seq = nextSeq++;
        const arrived = new Promise<number>((resolve) => arrivals.set(seq, resolve));
        const t0 = nowMs();
        const reply = await send();
        if (reply.seq !== seq) throw new Error(`sequence ${reply.seq}, expected ${seq}`);
        into.push((await arrived) - t0);
      };
      for (let i = 0; i < LATENCY_KEYS; i++) {
        await key(() => gateway.input(GUEST, { keys: [{ qcode: 'a', down: true }] }), keyMs);
        const f0 = nowMs();
        await gateway.ping(connectionId, PING_PATH);
        floorMs.push(nowMs() - f0);
        await key(() => postKey('b'), httpMs);
      }
      const before = received;
      const t0 = nowMs();
      let sent = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (sent < THROUGHPUT_KEYS) {
            sent++;
            await postKey('c');
          }
        }),
      );
      nextSeq += THROUGHPUT_KEYS;
      await gateway.delivered(connectionId);
      const keysPerS = (received - before) / ((nowMs() - t0) / 1000);
      return { key_to_server_ms: keyMs, key_http_to_server_ms: httpMs, tls_floor_ms: floorMs, keys_per_s: keysPerS };
    },
    derive: (m) => ({ key_to_floor_p99_ratio: (m.key_to_server_ms_p99 ?? Number.NaN) / (m.tls_floor_ms_p99 ?? Number.NaN) }),
  });
} finally {
  agent.destroy();
  await endpoint.close();
  await gateway.stop();
  await server.stop();
  await guest.close();
  await deleteStreams(nc, [stream.name]);
  await nc.drain();
}
