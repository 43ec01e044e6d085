import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GuestRig, standardPolicy, startRig } from './testing/guest-rig.js';

const GUEST = 'storm-1';
let rig: GuestRig;

beforeAll(async () => {
  rig = await startRig({
    name: GUEST,
    policy: (profile) => ({ ...standardPolicy(GUEST, profile), coalesce: { burst: 50, window_ms: 500 } }),
  });
  await rig.startAgent();
  await rig.waitFor('attached', () => rig.agentEvents.find((e) => e.event === 'attached'));
}, 240_000);

afterAll(async () => {
  await rig?.close();
});

describe('a storm of writes to one protected variable', () => {
  it('is protected at run time through the control service', async () => {
    const report = await rig.attack('restore');
    const phys = /burst_target_phys=(0x[0-9a-f]+)/.exec(report)?.[1];
    expect(phys).toBeDefined();
    const reply = await rig.nc.request(
      `${rig.prefix}.ctl.host-agent.test-host.protect`,
      JSON.stringify({
        guest: GUEST,
        rule: { name: 'burst-target', severity: 'low', mechanism: 'watchpoint', target: { kind: 'physical', address: phys, length: 8 } },
      }),
      { timeout: 30_000 },
    );
    const body = reply.json<{ regions: Array<{ object: string; mechanisms: string[] }> }>();
    expect(body.regions).toHaveLength(1);
    expect(body.regions[0]?.mechanisms).toEqual(['watchpoint']);
    await rig.waitFor('policy applied', () => rig.agentEvents.find((e) => e.event === 'policy-applied'));
  });

  it('is coalesced into summaries whose counts add up to all 10,000 writes', async () => {
    const report = await rig.attack('restore');
    const va = /burst_target=(0x[0-9a-f]+)/.exec(report)?.[1] as string;
    const trapsBefore = rig.trapCount;
    // The same store 10,000 times through the direct map, where the watchpoint is.
    await rig.attack(`poke ${va} 0x5a5a 8 direct 10000`);
    const object = rig.agent?.sessions
      .get(GUEST)
      ?.status()
      .regions.find((r) => r.rule === 'burst-target')?.object as string;
    const total = () => rig.summaries.filter((s) => s.region.object === object).reduce((n, s) => n + s.count, 0);
    await rig.waitFor('summaries adding up to 10,000', () => total() >= 10_000, 120_000);
    // Let any straggling window close: the sum must stay exact.
    await new Promise((r) => setTimeout(r, 1500));
    const summaries = rig.summaries.filter((s) => s.region.object === object);
    expect(total()).toBe(10_000);
    const suppressed = summaries.reduce((n, s) => n + s.suppressed, 0);
    const published = rig.trapCount - trapsBefore;
    expect(published + suppressed).toBe(10_000);
    expect(published).toBeLessThan(1000);
    for (const s of summaries) expect(Date.parse(s.first_seen)).toBeLessThanOrEqual(Date.parse(s.last_seen));
    const stats = rig.agent?.sessions.get(GUEST)?.stats();
    expect(stats?.traps).toBeGreaterThanOrEqual(10_000);
  });
});
