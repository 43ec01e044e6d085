import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputGateway } from '../gateway.js';
import { capturedLogger, inputSandbox } from '../test-support.js';
import { buildKeyEndpoint, isLoopback, listenKeyEndpoint } from './key-endpoint.js';

type Sandbox = Awaited<ReturnType<typeof inputSandbox>>;
let sandbox: Sandbox;
let gateway: InputGateway;
let app: FastifyInstance;
let url: string;
let logged: () => string;

beforeAll(async () => {
  const captured = capturedLogger();
  logged = captured.text;
  sandbox = await inputSandbox(captured.logger);
  gateway = await InputGateway.create({ js: sandbox.js, subjects: sandbox.subjects, host: 'test-host', logger: captured.logger });
  app = buildKeyEndpoint(gateway);
  url = await listenKeyEndpoint(app, '127.0.0.1', 0);
});

afterAll(async () => {
  await app?.close();
  await gateway?.stop();
  await sandbox?.close();
});

async function post(guest: string, body: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`${url}/v1/guests/${guest}/keys`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: response.status, text: await response.text() };
}

const SECRET = 'Zq7-hunter2-canary';

describe('the local key endpoint', () => {
  it('listens on loopback only', async () => {
    expect(isLoopback('127.0.0.1')).toBe(true);
    expect(isLoopback('::1')).toBe(true);
    expect(isLoopback('0.0.0.0')).toBe(false);
    expect(isLoopback('10.0.0.1')).toBe(false);
    const other = buildKeyEndpoint(gateway);
    await expect(listenKeyEndpoint(other, '0.0.0.0', 0)).rejects.toMatchObject({ code: 'VMI_ERR_CONFIG' });
    await other.close();
  });

  it('refuses keys for a guest it has no keyboard for', async () => {
    const reply = await post('no-such-guest', JSON.stringify({ text: 'abc' }));
    expect(reply.status).toBe(404);
    expect(JSON.parse(reply.text).error).toMatchObject({ code: 'VMI_ERR_INPUT_UNKNOWN_GUEST' });
  });

  it('refuses unknown keys and untypeable text by position, never echoing them', async () => {
    const unknown = await post(
      'web-1',
      JSON.stringify({
        keys: [
          { qcode: 'a', down: true },
          { qcode: SECRET.toLowerCase().replace(/-/g, '_'), down: true },
        ],
      }),
    );
    expect(unknown.status).toBe(400);
    expect(JSON.parse(unknown.text).error).toMatchObject({ code: 'VMI_ERR_INPUT_MALFORMED_KEY_EVENT', path: '/keys/1/qcode' });
    const untypeable = await post('web-1', JSON.stringify({ text: `${SECRET}\u00e9` }));
    expect(JSON.parse(untypeable.text).error).toMatchObject({ code: 'VMI_ERR_INPUT_MALFORMED_KEY_EVENT', path: '/text' });
    expect(unknown.text + untypeable.text).not.toMatch(/hunter2/i);
  });

  it('answers a body that is not JSON without quoting it', async () => {
    const reply = await post('web-1', `{"text":"${SECRET}`);
    expect(reply.status).toBe(400);
    expect(JSON.parse(reply.text).error).toMatchObject({ code: 'VMI_ERR_JSON_PARSE' });
    expect(reply.text).not.toContain('hunter2');
    const schema = await post('web-1', JSON.stringify({ text: SECRET, extra: SECRET }));
    expect(JSON.parse(schema.text).error).toMatchObject({ code: 'VMI_ERR_VALIDATION' });
    expect(schema.text).not.toContain('hunter2');
    expect(logged()).not.toContain('hunter2');
  });
});
