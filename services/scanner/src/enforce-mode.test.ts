import { type GuestRig, standardPolicy, startRig } from '@vmi/host-agent/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRigScanner } from './test-support/scanner-rig.js';

const GUEST = 'enforce-1';
let rig: GuestRig;
let table: bigint;
const hex = (v: bigint) => `0x${v.toString(16)}`;

beforeAll(async () => {
  rig = await startRig({
    name: GUEST,
    policy: (profile) => {
      const p = standardPolicy(GUEST, profile);
      return { ...p, rules: p.rules.map((r) => (r.name === 'syscall-table' ? { ...r, mode: 'enforce' as const } : r)) };
    },
    agentEnv: { VERDICT_TIMEOUT_MS: '3000' },
  });
  table = BigInt(rig.profile.sysCallTable);
  await rig.startAgent();
  await rig.waitFor('attached', () => rig.agentEvents.find((e) => e.event === 'attached'));
}, 240_000);

afterAll(async () => {
  await rig?.close();
});

const entry = (nr: number) => rig.guest.readKernelImage(table + BigInt(nr * 8), 8);

describe('enforce mode', () => {
  it('holds the writing vCPU until the verdict and restores the old bytes when it is malicious', async () => {
    const scanner = await startRigScanner(rig, { SWEEP_PERIOD_MS: '0' });
    const original = await entry(150);
    const report = await rig.attack(`hook-syscall ${hex(table)} 150 image`);
    expect(report).toContain('hook-syscall');
    const f = await rig.waitFor('finding', () => rig.findingFor('sys_call_table[150]'));
    expect(f.evidence.restored).toBe(true);
    const verdict = await rig.waitFor('verdict', () => rig.verdicts.find((v) => v.trap_id === f.evidence.trap_id));
    expect(verdict).toMatchObject({ verdict: 'malicious', restore: true, finding_id: f.id });
    await rig.waitFor('restore', () => rig.agent?.sessions.get(GUEST)?.stats().restored === 1);
    expect((await entry(150)).equals(original)).toBe(true);
    // The attacker's value was really written first: the finding shows it.
    expect(Buffer.from(f.evidence.new_bytes, 'hex').equals(original)).toBe(false);
    await scanner.stop();
  });

  it('lets the write through when no verdict comes in time, and reports that enforcement lapsed', async () => {
    const original = await entry(151);
    await rig.attack(`hook-syscall ${hex(table)} 151 image`);
    const lost = await rig.waitFor(
      'fail-open report',
      () => rig.agentEvents.find((e) => e.event === 'protection-lost' && e.error?.code === 'VMI_ERR_AGENT_VERDICT_TIMEOUT'),
      15_000,
    );
    expect(lost.reason).toContain('fail open');
    expect(rig.agent?.sessions.get(GUEST)?.stats().released_on_timeout).toBe(1);
    expect((await entry(151)).equals(original)).toBe(false);
  });
});
