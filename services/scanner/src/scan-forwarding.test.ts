import { randomBytes } from 'node:crypto';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { isVmiError, Subjects } from '@vmi/contracts';
import { connectNats, createLogger, type NatsConnection } from '@vmi/service-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forwardScan, hostControlSubject } from './scan-forwarding.js';

const SERVERS = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const subjects = new Subjects(`fwd${randomBytes(4).toString('hex')}`);
let nc: NatsConnection;

beforeAll(async () => {
  nc = await connectNats({ servers: SERVERS, name: 'scan-forwarding-test', logger: createLogger({ service: 'test', level: 'silent' }) });
});

afterAll(async () => {
  await nc?.close();
});

/** A responder standing for the other host's scanners, answering each scan with `answer`. */
async function otherHost(host: string, answer: (data: Uint8Array) => { data: string; error?: string }): Promise<() => void> {
  const sub = nc.subscribe(`${hostControlSubject(subjects, host)}.scan`, {
    callback: (_e, m) => {
      const a = answer(m.data);
      if (a.error === undefined) m.respond(a.data);
      else {
        const h = natsHeaders();
        h.set('Nats-Service-Error-Code', a.error);
        h.set('Nats-Service-Error', 'failed');
        m.respond(a.data, { headers: h });
      }
    },
  });
  await nc.flush();
  return () => sub.unsubscribe();
}

async function failure(p: Promise<unknown>): Promise<{ code: string; status: number; message: string }> {
  try {
    await p;
  } catch (err) {
    if (isVmiError(err)) return { code: err.code, status: err.status, message: err.message };
    throw err;
  }
  throw new Error('the forwarded scan succeeded');
}

describe("a scan passed to the guest's host", () => {
  it("asks that host's scanners and returns their reply, validated", async () => {
    const asked: unknown[] = [];
    const stop = await otherHost('host-a', (data) => {
      asked.push(JSON.parse(new TextDecoder().decode(data)));
      return { data: JSON.stringify({ guest: 'web-1', checked: 3, findings: [], duration_ms: 1.5 }) };
    });
    try {
      const reply = await forwardScan(nc, subjects, 'host-a', { guest: 'web-1', rules: ['syscall-table'] }, 5000);
      expect(reply).toEqual({ guest: 'web-1', checked: 3, findings: [], duration_ms: 1.5 });
      expect(asked).toEqual([{ guest: 'web-1', rules: ['syscall-table'] }]);
    } finally {
      stop();
    }
  });

  it('passes on the error that host answered with, under its own code and status', async () => {
    const record = { code: 'VMI_ERR_SCANNER_MEMORY_UNAVAILABLE', message: 'Guest memory could not be opened: web-1', path: null };
    const stop = await otherHost('host-b', () => ({ data: JSON.stringify(record), error: '503' }));
    try {
      expect(await failure(forwardScan(nc, subjects, 'host-b', { guest: 'web-1' }, 5000))).toEqual({
        code: record.code,
        status: 503,
        message: record.message,
      });
    } finally {
      stop();
    }
  });

  it('refuses a reply that is neither a scan reply nor a catalogued error', async () => {
    const answers = [
      { data: JSON.stringify({ guest: 'web-1', checked: -1 }) },
      { data: 'not json', error: '500' },
      { data: JSON.stringify({ code: 'SOMEONE_ELSES_CODE', message: 'x' }), error: '500' },
    ];
    let next = 0;
    const stop = await otherHost('host-c', () => answers[next++] ?? { data: '' });
    try {
      for (const _ of answers) {
        expect((await failure(forwardScan(nc, subjects, 'host-c', { guest: 'web-1' }, 5000))).code).toBe('VMI_ERR_INTERNAL');
      }
    } finally {
      stop();
    }
  });

  it('says no scanner answered there when none does', async () => {
    const f = await failure(forwardScan(nc, subjects, 'host-nobody', { guest: 'web-1' }, 2000));
    expect(f.code).toBe('VMI_ERR_SCANNER_HOST_UNAVAILABLE');
    expect(f.status).toBe(503);
  });
});
