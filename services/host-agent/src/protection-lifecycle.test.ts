import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GuestRig, standardPolicy, startRig } from './testing/guest-rig.js';

const GUEST = 'lifecycle-1';
let rig: GuestRig;
let table: bigint;
const hex = (v: bigint) => `0x${v.toString(16)}`;

beforeAll(async () => {
  rig = await startRig({ name: GUEST, policy: (profile) => standardPolicy(GUEST, profile) });
  table = BigInt(rig.profile.sysCallTable);
  await rig.startAgent();
  await rig.waitFor('attached', () => rig.agentEvents.find((e) => e.event === 'attached'));
}, 240_000);

afterAll(async () => {
  await rig?.close();
});

/** Hooks one syscall entry and waits for its trap event; returns whether one came. */
async function hookTrapped(nr: number, timeoutMs = 10_000): Promise<boolean> {
  const before = rig.trapCount;
  await rig.attack(`hook-syscall ${hex(table)} ${nr} image`);
  try {
    await rig.waitFor(`trap on entry ${nr}`, () => rig.trapCount > before, timeoutMs);
    return true;
  } catch {
    return false;
  }
}

const control = (op: string, body: unknown) =>
  rig.nc.request(`${rig.prefix}.ctl.host-agent.test-host.${op}`, JSON.stringify(body), { timeout: 30_000 });

describe('protection across restarts, policy changes and pauses', () => {
  it('re-arms after the agent restarts and reports the gap', async () => {
    await rig.agent?.stop();
    await rig.waitFor('detached', () => rig.agentEvents.find((e) => e.event === 'detached'));
    await rig.startAgent();
    const rearmed = await rig.waitFor('rearmed', () => rig.agentEvents.find((e) => e.event === 'rearmed'));
    expect(rearmed.gap_s).not.toBeNull();
    expect(rearmed.gap_s).toBeGreaterThanOrEqual(0);
    expect(rearmed.regions.some((r) => r.object === 'sys_call_table[200]' && r.mechanisms.includes('watchpoint'))).toBe(true);
    expect(await hookTrapped(200)).toBe(true);
  });

  it('refuses a bad policy with the field and the reason, and keeps protecting with the last good one', async () => {
    const bad = { ...standardPolicy(GUEST, rig.profile), mode: 'paranoid' };
    rig.writePolicy(JSON.stringify(bad));
    const rejected = await rig.waitFor('policy-rejected', () => rig.agentEvents.find((e) => e.event === 'policy-rejected'));
    expect(rejected.error?.code).toBe('VMI_ERR_AGENT_POLICY_INVALID');
    expect(rejected.error?.path).toBe('/mode');
    const unknownSymbol = standardPolicy(GUEST, rig.profile);
    unknownSymbol.rules.push({ name: 'ghost', severity: 'low', target: { kind: 'symbol', symbol: 'no_such_symbol', length: 8 } });
    rig.writePolicy(unknownSymbol);
    await rig.waitFor('second rejection', () => rig.agentEvents.filter((e) => e.event === 'policy-rejected').length >= 2);
    expect(rig.agentEvents.filter((e) => e.event === 'policy-rejected')[1]?.error?.code).toBe('VMI_ERR_AGENT_SYMBOL_UNKNOWN');
    expect(await hookTrapped(201)).toBe(true);
  });

  it('pauses and resumes through the control service, telling when protection was off', async () => {
    const paused = (await control('pause', { guest: GUEST, paused: true })).json<{ guests: Array<{ paused: boolean }> }>();
    expect(paused.guests[0]?.paused).toBe(true);
    const lost = await rig.waitFor('protection-lost', () => rig.agentEvents.find((e) => e.event === 'protection-lost'));
    expect(lost.reason).toContain('paused');
    expect(await hookTrapped(202, 3000)).toBe(false);
    await control('pause', { guest: GUEST, paused: false });
    const restored = await rig.waitFor('protection-restored', () => rig.agentEvents.find((e) => e.event === 'protection-restored'));
    expect(restored.gap_s).toBeGreaterThan(0);
    expect(await hookTrapped(203)).toBe(true);
  });

  it('lists guests and regions, and refuses unknown guests with a coded error', async () => {
    const list = (await control('list', {})).json<{ guests: Array<{ guest: string; attached: boolean; regions: unknown[] }> }>();
    expect(list.guests[0]).toMatchObject({ guest: GUEST, attached: true });
    expect(list.guests[0]?.regions.length).toBeGreaterThan(700);
    const reply = await control('unprotect', { guest: 'nobody', rule: 'x' });
    expect(reply.headers?.get('Nats-Service-Error-Code')).toBe('404');
    const stats = (await control('stats', {})).json<{ guests: Array<{ traps: number; rearms: number }> }>();
    expect(stats.guests[0]?.traps).toBeGreaterThan(0);
  });

  it('reports lost protection when QEMU goes away', async () => {
    await rig.guest.close();
    const lost = await rig.waitFor('protection-lost on link loss', () =>
      rig.agentEvents.find((e) => e.event === 'protection-lost' && (e.reason ?? '').includes('link')),
    );
    expect(lost.mechanisms.watchpoint).toBe(false);
    expect(rig.agent?.sessions.get(GUEST)?.status().attached).toBe(false);
  });
});
