import type { Service } from '@nats-io/services';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputGateway } from '../gateway.js';
import { capturedLogger, inputSandbox } from '../test-support.js';
import { CONTROL_OPERATIONS, startControlService } from './control-service.js';

type Sandbox = Awaited<ReturnType<typeof inputSandbox>>;
let sandbox: Sandbox;
let gateway: InputGateway;
let service: Service;

beforeAll(async () => {
  const { logger } = capturedLogger();
  sandbox = await inputSandbox(logger);
  gateway = await InputGateway.create({ js: sandbox.js, subjects: sandbox.subjects, host: 'test-host', logger });
  service = await startControlService(sandbox.nc, sandbox.subjects, gateway, logger);
});

afterAll(async () => {
  await service?.stop();
  await gateway?.stop();
  await sandbox?.close();
});

async function call(operation: string, body: unknown): Promise<Record<string, unknown>> {
  const payload = typeof body === 'string' ? body : JSON.stringify(body);
  const reply = await sandbox.nc.request(`${sandbox.prefix}.ctl.input.${operation}`, payload, { timeout: 5_000 });
  return JSON.parse(reply.string()) as Record<string, unknown>;
}

async function errorOf(operation: string, body: unknown): Promise<{ code: string; path?: string; status: number; message: string }> {
  const reply = await call(operation, body);
  expect(reply.error, `expected ${operation} to fail`).toBeDefined();
  return reply.error as { code: string; path?: string; status: number; message: string };
}

const SERVER_KEY = 'q1cD2mO3yK6p8vX0l4n9r7s5t2u1w0z9y8x7v6u5t4s';
const open = {
  guest: 'no-such-guest',
  application: 'bank-app',
  endpoint: 'https://127.0.0.1:9/v1/secure-input/records',
  server_public_key: SERVER_KEY,
  suite: { kem: 'DHKEM-X25519-HKDF-SHA256', kdf: 'HKDF-SHA256', aead: 'AES-256-GCM' },
  ttl_s: 60,
};

describe('the input gateway control service', () => {
  it('serves every operation under <prefix>.ctl.input', () => {
    const subjects = service.info().endpoints.map((e) => e.subject);
    expect(subjects.sort()).toEqual(CONTROL_OPERATIONS.map((op) => `${sandbox.prefix}.ctl.input.${op}`).sort());
  });

  it('tells servers which gateway key to pin', async () => {
    const identity = await call('identity', {});
    expect(identity).toEqual(gateway.identity());
    expect(identity.public_key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(identity.key_id).toMatch(/^[0-9a-f]{16}$/);
  });

  it('refuses a connection for a guest it has no keyboard for', async () => {
    expect(await errorOf('open', open)).toMatchObject({ code: 'VMI_ERR_INPUT_UNKNOWN_GUEST', status: 404, path: '/guest' });
    expect(await errorOf('focus', { guest: 'no-such-guest', connection_id: null })).toMatchObject({ code: 'VMI_ERR_INPUT_UNKNOWN_GUEST' });
    expect(await errorOf('status', { guest: 'no-such-guest' })).toMatchObject({ code: 'VMI_ERR_INPUT_UNKNOWN_GUEST' });
  });

  it('refuses keys that are not X25519 public keys', async () => {
    for (const key of ['AAAA', 'not base64url!', `${SERVER_KEY}AA`, 'A'.repeat(43)]) {
      expect(await errorOf('open', { ...open, server_public_key: key }), key).toMatchObject({
        code: 'VMI_ERR_INPUT_MALFORMED_KEY',
        path: '/server_public_key',
      });
    }
  });

  it('refuses algorithms it does not implement, naming the part', async () => {
    const cases = [
      [{ ...open.suite, aead: 'AES-256-OCB' }, '/suite/aead'],
      [{ ...open.suite, kem: 'DHKEM-P256-HKDF-SHA256' }, '/suite/kem'],
      [{ ...open.suite, kdf: 'HKDF-MD5' }, '/suite/kdf'],
    ] as const;
    for (const [suite, path] of cases) {
      expect(await errorOf('open', { ...open, suite })).toMatchObject({ code: 'VMI_ERR_INPUT_UNSUPPORTED_ALGORITHM', status: 400, path });
    }
  });

  it('refuses endpoints that are not https and CAs that are not certificates', async () => {
    expect(await errorOf('open', { ...open, endpoint: 'http://127.0.0.1/records' })).toMatchObject({ code: 'VMI_ERR_INPUT_BAD_ENDPOINT' });
    expect(await errorOf('open', { ...open, endpoint: 'https://user:pw@127.0.0.1/records' })).toMatchObject({
      code: 'VMI_ERR_INPUT_BAD_ENDPOINT',
    });
    expect(await errorOf('open', { ...open, tls_ca_pem: 'not a certificate' })).toMatchObject({ code: 'VMI_ERR_INPUT_BAD_CA' });
  });

  it('refuses requests that are not JSON or break the schema, with the field', async () => {
    expect(await errorOf('open', '{"guest":')).toMatchObject({ code: 'VMI_ERR_JSON_PARSE', status: 400 });
    expect(await errorOf('open', { ...open, ttl_s: 0 })).toMatchObject({ code: 'VMI_ERR_VALIDATION', path: '/ttl_s' });
    expect(await errorOf('open', { ...open, private_key: 'x' })).toMatchObject({ code: 'VMI_ERR_VALIDATION', path: '/private_key' });
    expect(await errorOf('close', { connection_id: '0192f4a1-a000-7d2a-9b1e-3f5a6c7d8e9f' })).toMatchObject({
      code: 'VMI_ERR_INPUT_UNKNOWN_CONNECTION',
      status: 404,
    });
  });

  it('reports status as the contract says', async () => {
    expect(await call('status', {})).toEqual({ guests: [], connections: [] });
  });
});
