import { join } from 'node:path';
import { type GuestRig, standardPolicy, startRig } from '@vmi/host-agent/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scanner } from './app.js';
import { startRigScanner } from './test-support/scanner-rig.js';

const GUEST = 'routed-1';
const OTHER_HOST = 'other-host';
let rig: GuestRig;
let here: Scanner;
let elsewhere: Scanner;

beforeAll(async () => {
  rig = await startRig({ name: GUEST, policy: (profile) => standardPolicy(GUEST, profile) });
  here = await startRigScanner(rig, { SWEEP_PERIOD_MS: '0' });
  // A scanner of another host on the same NATS. The guest's RAM file is a path on its own host, so
  // this one must never read it; nor can it reach this host's handoff socket.
  elsewhere = await startRigScanner(rig, {
    HOST_NAME: OTHER_HOST,
    SWEEP_PERIOD_MS: '0',
    FAST_TRAPS: 'false',
    TRAP_HANDOFF_SOCKET: join(rig.dir, 'no-agent-on-this-host.sock'),
  });
  await rig.startAgent();
  await rig.waitFor('attached', () => rig.agentEvents.find((e) => e.event === 'attached'));
  await rig.waitFor('the guest in both scanners', () => [here, elsewhere].every((s) => s.stats().guests.includes(GUEST)) || undefined);
}, 240_000);

afterAll(async () => {
  await rig?.close();
});

const ask = (subject: string, body: unknown) => rig.nc.request(subject, JSON.stringify(body), { timeout: 30_000 });

describe('on-demand scans in a deployment of several hosts', () => {
  it("refuses a scan of another host's guest on a host's own endpoint, reading nothing", async () => {
    const reply = await ask(`${rig.prefix}.ctl.scanner.${OTHER_HOST}.scan`, { guest: GUEST });
    expect(reply.headers?.get('Nats-Service-Error-Code')).toBe('421');
    expect(reply.json()).toMatchObject({ code: 'VMI_ERR_SCANNER_GUEST_ELSEWHERE' });
    expect(elsewhere.stats().scans).toBe(0);
  });

  it("runs every scan asked of any scanner on a scanner of the guest's host", async () => {
    const asks = 20;
    for (let i = 0; i < asks; i++) {
      const reply = await ask(`${rig.prefix}.ctl.scanner.scan`, { guest: GUEST, rules: ['syscall-table'] });
      expect(reply.headers?.get('Nats-Service-Error-Code') ?? null).toBeNull();
      expect(reply.json<{ guest: string; checked: number }>()).toMatchObject({ guest: GUEST, checked: expect.any(Number) });
      expect(reply.json<{ checked: number }>().checked).toBeGreaterThanOrEqual(451);
    }
    expect(here.stats().scans).toBe(asks);
    expect(elsewhere.stats().scans).toBe(0);
    // The queue group spread the asks over both instances (all on one: one chance in a million).
    expect(elsewhere.stats().scans_forwarded).toBeGreaterThan(0);
    expect(here.stats().scans_forwarded).toBe(0);
  });

  it("also answers on the guest's host's own endpoint", async () => {
    const reply = await ask(`${rig.prefix}.ctl.scanner.test-host.scan`, { guest: GUEST, rules: ['idt'] });
    expect(reply.headers?.get('Nats-Service-Error-Code') ?? null).toBeNull();
    expect(reply.json<{ checked: number }>().checked).toBe(256);
  });

  it("says so when no scanner on the guest's host answers", async () => {
    await here.stop();
    const reply = await ask(`${rig.prefix}.ctl.scanner.scan`, { guest: GUEST });
    expect(reply.headers?.get('Nats-Service-Error-Code')).toBe('503');
    expect(reply.json()).toMatchObject({ code: 'VMI_ERR_SCANNER_HOST_UNAVAILABLE' });
  });
});
