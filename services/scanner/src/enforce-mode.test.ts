import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { NATS_HEADERS, SCHEMA_VERSION, type TrapEvent, type Verdict } from '@vmi/contracts';
import { type GuestRig, standardPolicy, startRig } from '@vmi/host-agent/testing';
import { LineSplitter } from '@vmi/service-runtime';
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

  it('releases the vCPU on a verdict handed back over the trap handoff, with no broker trip', async () => {
    // This test is the host's scanner: it takes the trap from the agent's socket and answers on it;
    // nothing publishes a verdict on NATS, so only the handed-back one can release the hold.
    const socket = connect(rig.handoffSocket);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const events: TrapEvent[] = [];
    const lines = new LineSplitter(1 << 20, (line) => events.push((JSON.parse(line.toString('utf8')) as { event: TrapEvent }).event));
    socket.on('data', (chunk: Buffer) => void lines.push(chunk));
    try {
      const original = await entry(152);
      const restoredBefore = rig.agent?.sessions.get(GUEST)?.stats().restored ?? 0;
      const attack = rig.attack(`hook-syscall ${hex(table)} 152 direct`);
      const trap = await rig.waitFor('the held trap', () => events.find((e) => e.region.object === 'sys_call_table[152]'));
      expect(trap.held).toBe(true);
      const verdict: Verdict = {
        id: randomUUID(),
        time: new Date().toISOString(),
        version: SCHEMA_VERSION,
        type: 'verdict',
        host: trap.host,
        guest: GUEST,
        trap_id: trap.id,
        verdict: 'malicious',
        reason: 'handed back by the test',
        finding_id: null,
        restore: true,
      };
      // A bad line first: refused and counted, the hold keeps waiting for a good one.
      socket.write('{"verdict": {"trap_id": 1}}\n');
      socket.write(`${JSON.stringify({ verdict })}\n`);
      await attack;
      await rig.waitFor('restore', () => (rig.agent?.sessions.get(GUEST)?.stats().restored ?? 0) > restoredBefore || undefined);
      expect((await entry(152)).equals(original)).toBe(true);
      expect(rig.agent?.sessions.get(GUEST)?.stats().released_on_timeout).toBe(0);
      expect(rig.verdicts.find((v) => v.trap_id === trap.id)).toBeUndefined();
    } finally {
      socket.destroy();
    }
  });

  it('lets the write through when no verdict comes in time, and reports that enforcement lapsed', async () => {
    // No scanner is connected: the agent hands the trap to none, and says so on its record.
    const fastCopy: Array<string | undefined> = [];
    const sub = rig.nc.subscribe(`${rig.prefix}.trap.>`, {
      callback: (_e, m) => {
        if ((JSON.parse(new TextDecoder().decode(m.data)) as TrapEvent).region.object === 'sys_call_table[151]') {
          fastCopy.push(m.headers?.get(NATS_HEADERS.fastCopy));
        }
      },
    });
    const original = await entry(151);
    await rig.attack(`hook-syscall ${hex(table)} 151 image`);
    sub.unsubscribe();
    expect(fastCopy).toEqual(['none']);
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
