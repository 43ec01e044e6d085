import { type GuestRig, standardPolicy, startRig, textProbe } from '@vmi/host-agent/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scanner } from './app.js';
import { startRigScanner } from './test-support/scanner-rig.js';

const GUEST = 'detect-1';
let rig: GuestRig;
let table: bigint;
let idt: bigint;
let scanner: Scanner;

beforeAll(async () => {
  rig = await startRig({
    name: GUEST,
    policy: (profile) => standardPolicy(GUEST, profile),
  });
  table = BigInt(rig.profile.sysCallTable);
  idt = BigInt(rig.profile.idtTable);
  scanner = await startRigScanner(rig, { SWEEP_PERIOD_MS: '1000', SWEEP_GRACE_MS: '300' });
  await rig.startAgent();
  await rig.waitFor('attached', () => rig.agentEvents.find((e) => e.event === 'attached'));
}, 240_000);

afterAll(async () => {
  await rig?.close();
});

const hex = (v: bigint) => `0x${v.toString(16)}`;

describe('write-triggered detection on a real guest', () => {
  it('attaches and says what it protects', () => {
    const attached = rig.agentEvents.find((e) => e.event === 'attached');
    expect(attached?.mechanisms.watchpoint).toBe(true);
    const objects = new Set(attached?.regions.map((r) => r.object));
    for (const o of ['sys_call_table[0]', 'idt_table[255]', 'modprobe_path', 'core_pattern', textProbe(rig.profile)])
      expect(objects).toContain(o);
    expect(attached?.regions.find((r) => r.object === 'sys_call_table[59]')?.mechanisms).toEqual(['watchpoint']);
  });

  it('stays quiet through boot, hostname changes and a workload', async () => {
    await rig.guest.exec('hostname benign-1; hostname benign-2; workload -t 3', { timeoutMs: 60_000 });
    // Give the sweep (1 s) time to look at everything too.
    await new Promise((r) => setTimeout(r, 2500));
    expect(rig.findings).toEqual([]);
  });

  it('finds modprobe_path and core_pattern overwritten through sysctl, written by kernel code', async () => {
    const out = await rig.guest.exec('sysctl-attack', { timeoutMs: 60_000 });
    expect(out.output).toContain('AFTER modprobe_path=/tmp/vmi-pwn');
    for (const [object, rule] of [
      ['modprobe_path', 'modprobe-path'],
      ['core_pattern', 'core-pattern'],
    ] as const) {
      const f = await rig.waitFor(`finding on ${object}`, () => rig.findingFor(object));
      expect(f.rule).toBe(rule);
      expect(f.severity).toBe('high');
      expect(f.ocsf.severity_id).toBe(4);
      expect(f.evidence.detected_by).toBe('trap');
      expect(f.evidence.check).toBe('value-not-allowed');
      expect(f.evidence.mechanism).toBe('watchpoint');
      expect(f.evidence.writer.kind).toBe('kernel');
      expect(f.evidence.writer.symbol).toMatch(/^[A-Za-z_][\w.]*\+0x[0-9a-f]+$/);
      expect(f.evidence.address.physical).not.toBeNull();
    }
    expect(Buffer.from(rig.findingFor('modprobe_path')?.evidence.new_bytes ?? '', 'hex').toString('latin1')).toContain('/tmp/vmi-pwn');
    // One overwrite, one finding, even though the kernel wrote the string a few bytes at a time.
    await new Promise((r) => setTimeout(r, 1000));
    expect(rig.findings.filter((f) => f.evidence.object === 'modprobe_path')).toHaveLength(1);
    expect(rig.findings.filter((f) => f.evidence.object === 'core_pattern')).toHaveLength(1);
  });

  it.each([
    ['image', 100],
    ['direct', 101],
  ])('finds a sys_call_table hook through the %s alias, written by the attack module', async (alias, nr) => {
    const before = rig.findings.length;
    await rig.attack(`hook-syscall ${hex(table)} ${nr} ${alias}`);
    const f = await rig.waitFor('syscall finding', () => rig.findingFor(`sys_call_table[${nr}]`, before));
    expect(f.rule).toBe('syscall-table');
    expect(f.severity).toBe('critical');
    expect(f.ocsf.severity_id).toBe(5);
    expect(f.evidence.check).toBe('pointer-outside-text');
    expect(f.evidence.detected_by).toBe('trap');
    expect(f.evidence.writer.kind).toBe('module');
    expect(f.evidence.writer.module).toBe('vmi_attack');
    expect(f.evidence.old_bytes).not.toBe(f.evidence.new_bytes);
    const target = Buffer.from(f.evidence.new_bytes, 'hex').readBigUInt64LE(0);
    expect(hex(target)).toBe(rig.profile.modules.vmi_attack?.vmi_attack_fake_syscall);
  });

  it.each([
    ['image', 128],
    ['direct', 129],
  ])('finds an IDT hook through the %s alias', async (alias, vector) => {
    const before = rig.findings.length;
    await rig.attack(`hook-idt ${hex(idt)} ${vector} ${alias}`);
    const f = await rig.waitFor('idt finding', () => rig.findingFor(`idt_table[${vector}]`, before));
    expect(f.rule).toBe('idt');
    expect(f.evidence.check).toBe('pointer-outside-text');
    expect(f.evidence.detected_by).toBe('trap');
    expect(f.evidence.writer.module).toBe('vmi_attack');
  });

  it('finds a kernel text patch through the image alias', async () => {
    const before = rig.findings.length;
    const probe = textProbe(rig.profile);
    const at = BigInt(rig.profile.symbols[probe] as string) + 16n;
    await rig.attack(`patch-text ${hex(at)} image`);
    const f = await rig.waitFor('text finding', () => rig.findingFor(probe, before));
    expect(f.rule).toBe('text-probe');
    expect(f.evidence.check).toBe('text-modified');
    expect(f.evidence.detected_by).toBe('trap');
    expect(f.evidence.writer.module).toBe('vmi_attack');
  });

  it('finds a hook written through a fresh vmap alias with the sweep, which no watchpoint sees', async () => {
    const before = rig.findings.length;
    const trapsBefore = rig.trapCount;
    await rig.attack(`hook-syscall ${hex(table)} 102 vmap`);
    const f = await rig.waitFor('sweep finding', () => rig.findingFor('sys_call_table[102]', before), 20_000);
    expect(f.evidence.detected_by).toBe('sweep');
    expect(f.evidence.check).toBe('pointer-outside-text');
    expect(f.evidence.trap_id).toBeNull();
    expect(rig.findings.slice(before).filter((x) => x.evidence.object === 'sys_call_table[102]')).toHaveLength(1);
    expect(rig.trapCount).toBe(trapsBefore);
  });

  it('scans on demand through the control service, naming the findings that stand for changed objects', async () => {
    const reply = await rig.nc.request(`${rig.prefix}.ctl.scanner.scan`, JSON.stringify({ guest: GUEST, rules: ['syscall-table'] }), {
      timeout: 30_000,
    });
    const body = reply.json<{ guest: string; checked: number; findings: string[] }>();
    expect(body.checked).toBeGreaterThanOrEqual(451);
    const hooked = rig.findings.filter((f) => f.rule === 'syscall-table').map((f) => f.id);
    expect(new Set(body.findings)).toEqual(new Set(hooked));
    const bad = await rig.nc.request(`${rig.prefix}.ctl.scanner.scan`, JSON.stringify({ guest: 'nobody' }), { timeout: 30_000 });
    expect(bad.headers?.get('Nats-Service-Error-Code')).toBe('404');
  });

  it('gives every trap a verdict, and one finding per trap at most', async () => {
    await rig.waitFor('verdicts', () => rig.verdicts.length >= rig.trapCount && rig.trapCount > 0);
    const trapIds = rig.findings.map((f) => f.evidence.trap_id).filter((id) => id !== null);
    expect(new Set(trapIds).size).toBe(trapIds.length);
    expect(new Set(rig.findings.map((f) => f.id)).size).toBe(rig.findings.length);
    // Each trap was checked once, from whichever copy came first: mostly the one the agent handed over.
    const stats = scanner.stats();
    expect(stats.traps).toBe(new Set(rig.verdicts.map((v) => v.trap_id)).size);
    expect(stats.fast_traps + stats.durable_traps).toBe(stats.traps);
    expect(stats.handoff_traps).toBeGreaterThanOrEqual(stats.fast_traps);
    expect(stats.fast_traps).toBeGreaterThan(0);
  });
});
