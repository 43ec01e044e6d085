import { type GuestRig, standardPolicy, startRig } from '@vmi/host-agent/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRigScanner } from './test-support/scanner-rig.js';

const GUEST = 'uffd-1';
let rig: GuestRig;
let table: bigint;
const hex = (v: bigint) => `0x${v.toString(16)}`;

beforeAll(async () => {
  rig = await startRig({ name: GUEST, uffd: true, policy: (profile) => standardPolicy(GUEST, profile) });
  table = BigInt(rig.profile.sysCallTable);
  // The sweep is off: only a trap can find these writes.
  await startRigScanner(rig, { SWEEP_PERIOD_MS: '0' });
  await rig.startAgent();
  await rig.waitFor('attached', () => rig.agentEvents.find((e) => e.event === 'attached'));
}, 240_000);

afterAll(async () => {
  await rig?.close();
});

describe('physical page traps (userfaultfd) beside watchpoints', () => {
  it('arms both mechanisms on the dispatch tables by default', () => {
    const attached = rig.agentEvents.find((e) => e.event === 'attached');
    expect(attached?.mechanisms).toEqual({ watchpoint: true, 'uffd-wp': true });
    expect(attached?.regions.find((r) => r.object === 'sys_call_table[7]')?.mechanisms.sort()).toEqual(['uffd-wp', 'watchpoint']);
    expect(attached?.regions.find((r) => r.object === 'modprobe_path')?.mechanisms).toEqual(['watchpoint']);
  });

  it('traps a write through a fresh vmap alias that no watchpoint sees, at the right physical address', async () => {
    await rig.attack(`hook-syscall ${hex(table)} 170 vmap`);
    const f = await rig.waitFor('finding', () => rig.findingFor('sys_call_table[170]'), 20_000);
    expect(f.evidence.detected_by).toBe('trap');
    expect(f.evidence.mechanism).toBe('uffd-wp');
    expect(f.evidence.check).toBe('pointer-outside-text');
    const phys = table - 0xffffffff80000000n + BigInt(rig.profile.physBase) + 170n * 8n;
    expect(f.evidence.address.physical).toBe(hex(phys));
  });

  it('raises one finding for a write both mechanisms saw', async () => {
    const before = rig.findings.length;
    await rig.attack(`hook-syscall ${hex(table)} 171 image`);
    await rig.waitFor('finding', () => rig.findingFor('sys_call_table[171]', before), 20_000);
    await new Promise((r) => setTimeout(r, 2000));
    expect(rig.findings.slice(before).filter((f) => f.evidence.object === 'sys_call_table[171]')).toHaveLength(1);
  });
});
