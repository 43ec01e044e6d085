import { jetstreamManager } from '@nats-io/jetstream';
import { type Finding, streamName, validators } from '@vmi/contracts';
import { type GuestRig, standardPolicy, startRig } from '@vmi/host-agent/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scanner } from './app.js';
import { PrivateNats } from './test-support/private-nats.js';
import { startRigScanner } from './test-support/scanner-rig.js';

const GUEST = 'outage-1';
let nats: PrivateNats;
let rig: GuestRig;
let table: bigint;
let scanner: Scanner;
const hex = (v: bigint) => `0x${v.toString(16)}`;

beforeAll(async () => {
  nats = await PrivateNats.start();
  // No handoff socket: the fast copies come by NATS, so an outage takes them away too.
  rig = await startRig({ name: GUEST, natsUrl: nats.url, handoff: false, policy: (profile) => standardPolicy(GUEST, profile) });
  table = BigInt(rig.profile.sysCallTable);
  scanner = await startRigScanner(rig, { SWEEP_PERIOD_MS: '0' });
  await rig.startAgent();
  await rig.waitFor('attached', () => rig.agentEvents.find((e) => e.event === 'attached'));
}, 240_000);

afterAll(async () => {
  await rig?.close();
  await nats?.close();
});

/** Every message of a stream, decoded (the stream is the record of what was stored). */
async function streamMessages(key: 'traps' | 'findings'): Promise<unknown[]> {
  const jsm = await jetstreamManager(rig.nc);
  const name = streamName(key, rig.prefix);
  const info = await jsm.streams.info(name);
  const out: unknown[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(name, { seq }).catch(() => null);
    if (m !== null) out.push(m.json());
  }
  return out;
}

describe('NATS stopping mid-run', () => {
  it('loses no trap and duplicates no finding', async () => {
    await rig.attack(`hook-syscall ${hex(table)} 160 image`);
    await rig.waitFor('first finding', () => rig.findingFor('sys_call_table[160]'));

    await nats.stop();
    // Written while NATS is down: the agent keeps the events, the scanner waits.
    await rig.attack(`hook-syscall ${hex(table)} 161 image`);
    await rig.attack(`hook-syscall ${hex(table)} 162 direct`);
    await new Promise((r) => setTimeout(r, 2000));
    const agent = rig.agent?.sessions.get(GUEST);
    expect(agent?.stats().outbox).toBeGreaterThan(0);
    await nats.start();

    const stored = async () => (await streamMessages('findings')).map((f) => validators.finding.parse(f));
    let findings: Finding[] = [];
    await rig.waitFor(
      'findings for every hook',
      () => ['161', '162'].every((nr) => rig.findingFor(`sys_call_table[${nr}]`) !== undefined),
      60_000,
    );
    findings = await stored();
    const objects = findings.map((f) => f.evidence.object).filter((o) => o.startsWith('sys_call_table[16'));
    expect(objects.sort()).toEqual(['sys_call_table[160]', 'sys_call_table[161]', 'sys_call_table[162]']);
    expect(new Set(findings.map((f) => f.id)).size).toBe(findings.length);

    const traps = (await streamMessages('traps')).map((t) => validators.trapEvent.parse(t));
    expect(new Set(traps.map((t) => t.id)).size).toBe(traps.length);
    expect(traps.length).toBe(agent?.stats().published);
    expect(agent?.stats().outbox).toBe(0);
    const seqs = traps.map((t) => t.seq).sort((a, b) => a - b);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(agent?.stats().publish_retries).toBeGreaterThan(0);
    // Fast copies came by the core subscription (no handoff here), and each trap was checked once.
    const stats = scanner.stats();
    expect(stats.handoff_traps).toBe(0);
    expect(stats.fast_traps).toBeGreaterThan(0);
    expect(stats.fast_traps + stats.durable_traps).toBe(stats.traps);
  });
});
