import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Guest, imageVirtToPhys, launchGuest, symbolAddress } from '@vmi/guest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { GenerationTable } from '../generation-table.js';
import { openTrapEngine, type TrapEngine } from './trap-engine.js';
import type { TrapEvent } from './types.js';

// One guest for the file: booting under software emulation is the slow part.
let guest: Guest;
let engine: TrapEngine | undefined;
const events: TrapEvent[] = [];

const sysctl = '/proc/sys/vm/dirty_background_ratio';

function sym(name: string): { virt: bigint; phys: bigint } {
  const virt = symbolAddress(guest.profile, name);
  return { virt, phys: imageVirtToPhys(guest.profile, virt) };
}

async function open(mode: 'monitor' | 'enforce' = 'monitor', generationPath?: string): Promise<TrapEngine> {
  const address = guest.gdbAddress;
  if (address === undefined) throw new Error('guest has no gdbstub');
  engine = await openTrapEngine({
    backend: 'gdbstub',
    mode,
    ...(generationPath === undefined ? {} : { generationTable: { path: generationPath, slots: 8 } }),
    ramPath: guest.ramPath,
    gdbstub: { host: address.host, port: address.port },
    kernel: { pageOffsetBase: BigInt(guest.profile.pageOffsetBase), idtTable: BigInt(guest.profile.idtTable) },
    onEvents: (batch) => events.push(...batch),
  });
  return engine;
}

async function run(command: string): Promise<string> {
  const result = await guest.exec(command);
  expect(result.exitCode, result.output).toBe(0);
  return result.output;
}

/** Events are delivered asynchronously: wait until `count` arrived, then a little longer for strays. */
async function settle(count: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (events.length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 300));
}

async function attackInfo(): Promise<Record<string, string>> {
  const out = await run('cat /proc/vmi_attack');
  return Object.fromEntries(out.split('\n').flatMap((l) => (l.includes('=') ? [l.split('=', 2) as [string, string]] : [])));
}

beforeAll(async () => {
  guest = await launchGuest({ name: 'gdbtraps' });
});

afterAll(async () => {
  await engine?.close();
  await guest?.close();
});

afterEach(async () => {
  await engine?.close();
  engine = undefined;
  events.length = 0;
});

describe('gdbstub trap backend on a real guest', () => {
  it('reports a watched kernel write once, with address, old and new bytes, and a rip in kernel text', async () => {
    const dbr = sym('dirty_background_ratio');
    const before = await guest.readKernelImage(dbr.virt, 4);
    const next = before.readUInt32LE(0) === 37 ? 38 : 37;
    const genPath = join(tmpdir(), `vmi-gen-traps-${process.pid}`);
    const e = await open('monitor', genPath);
    const object = await e.protect({ tag: 'dbr', virt: dbr.virt, phys: dbr.phys, length: 4 });
    expect(object.watches.map((w) => w.alias)).toEqual(['image', 'direct-map']);
    const table = GenerationTable.open(genPath);
    const gensBefore = table.read();
    expect(gensBefore.slots.map((s) => [s.physStart, s.length])).toEqual([
      [dbr.phys, 4n],
      [dbr.phys, 4n],
    ]);

    await run(`echo ${next} > ${sysctl}`);
    await settle(1);

    expect(events).toHaveLength(1);
    const ev = events[0] as TrapEvent;
    const after = await guest.readKernelImage(dbr.virt, 4);
    expect(after.readUInt32LE(0)).toBe(next);
    expect(ev).toMatchObject({ version: 1, kind: 'write', backend: 'gdbstub', tag: 'dbr', alias: 'image', held: false });
    // Only the low byte changes between two small values: the event carries exactly that byte.
    expect(ev.address).toBe(dbr.virt);
    expect(ev.phys).toBe(dbr.phys);
    expect(ev.oldBytes).toEqual(before.subarray(0, 1));
    expect(ev.newBytes).toEqual(after.subarray(0, 1));
    const stext = symbolAddress(guest.profile, '_stext');
    const etext = symbolAddress(guest.profile, '_etext');
    expect(ev.rip).not.toBeNull();
    expect((ev.rip as bigint) >= stext && (ev.rip as bigint) < etext).toBe(true);
    expect(ev.cr3).not.toBeNull();
    expect(ev.vcpu).toBe(0);
    expect(ev.deliverNs >= ev.stopNs).toBe(true);
    const c = e.counters();
    expect(c).toMatchObject({ queued: 1, delivered: 1, unmatchedStops: 0, protocolErrors: 0, watches: 2, armed: 2 });
    // Readers in other processes learn of the write through the generation table.
    const gensAfter = table.read();
    expect(gensAfter.globalGen).toBe(gensBefore.globalGen + 1n);
    expect(gensAfter.slots.map((s) => s.gen)).toEqual(gensBefore.slots.map((s) => s.gen + 1n));
    table.close();
    rmSync(genPath, { force: true });
  });

  it('traps a write through the direct-map alias of the same bytes, and none for unwatched writes', async () => {
    const dbr = sym('dirty_background_ratio');
    const e = await open();
    await e.protect({ tag: 'dbr', virt: dbr.virt, phys: dbr.phys, length: 4 });

    // Unwatched: the neighbouring sysctl (4 bytes lower in the same page) and the module's scratch page.
    const info = await attackInfo();
    await run('echo 499 > /proc/sys/vm/dirty_writeback_centisecs');
    await run(`echo 'poke ${info.burst_target} 7 8 image 3' > /proc/vmi_attack`);
    await settle(0);
    expect(events).toEqual([]);

    await run(`echo 'poke ${dbr.virt.toString(16)} 2a 4 direct 1' > /proc/vmi_attack`);
    await settle(1);
    expect(events).toHaveLength(1);
    const ev = events[0] as TrapEvent;
    expect(ev).toMatchObject({ tag: 'dbr', alias: 'direct-map', offset: 0 });
    expect(ev.address).toBe(BigInt(guest.profile.pageOffsetBase) + dbr.phys);
    expect(ev.newBytes[0]).toBe(0x2a);
    expect((await guest.readKernelImage(dbr.virt, 1))[0]).toBe(0x2a);
    expect(e.counters().unmatchedStops).toBe(0);
  });

  it('shares one watchpoint among touching ranges in a page and still names the written one', async () => {
    const table = symbolAddress(guest.profile, 'sys_call_table');
    const e = await open();
    for (let nr = 0; nr < 64; nr++) {
      const virt = table + BigInt(8 * nr);
      await e.protect({ tag: `sct-${nr}`, virt, phys: imageVirtToPhys(guest.profile, virt), length: 8, aliases: 'none' });
    }
    expect(e.counters()).toMatchObject({ watches: 64, armed: 1 });
    try {
      await run(`echo 'hook-syscall ${table.toString(16)} 40 image' > /proc/vmi_attack`);
      await settle(1);
      expect(events.map((ev) => ev.tag)).toEqual(['sct-40']);
      const slot = imageVirtToPhys(guest.profile, table + 8n * 40n);
      expect((events[0] as TrapEvent).phys).toBeGreaterThanOrEqual(slot);
      expect((events[0] as TrapEvent).phys).toBeLessThan(slot + 8n);
    } finally {
      await run("echo 'restore' > /proc/vmi_attack");
    }
  });

  it('arms watches asked for at once together, and disarms them together', async () => {
    const table = symbolAddress(guest.profile, 'sys_call_table');
    const e = await open();
    const entries = Array.from({ length: 256 }, (_, nr) => table + BigInt(8 * nr));
    await Promise.all(
      entries.map((virt, nr) =>
        e.protect({ tag: `sct-${nr}`, virt, phys: imageVirtToPhys(guest.profile, virt), length: 8, aliases: 'none' }),
      ),
    );
    // 2 KiB of entries may straddle a page boundary: one shared watchpoint per page.
    const pages = new Set(entries.map((v) => v >> 12n)).size;
    expect(e.counters()).toMatchObject({ watches: 256, armed: pages });
    try {
      await run(`echo 'hook-syscall ${table.toString(16)} 200 image' > /proc/vmi_attack`);
      await settle(1);
      expect(events.map((ev) => ev.tag)).toEqual(['sct-200']);
    } finally {
      await run("echo 'restore' > /proc/vmi_attack");
    }
    await settle(2);
    events.length = 0;
    await Promise.all(entries.map((_, nr) => e.unprotect(`sct-${nr}`)));
    expect(e.counters()).toMatchObject({ watches: 0, armed: 0 });
    await run(`echo 'hook-syscall ${table.toString(16)} 200 image' > /proc/vmi_attack`);
    await run("echo 'restore' > /proc/vmi_attack");
    await settle(1, 500);
    expect(events).toHaveLength(0);
  });

  it('delivers 1,000 events for a burst of 1,000 writes, in order', async () => {
    const info = await attackInfo();
    const virt = BigInt(info.burst_target ?? '0');
    const phys = BigInt(info.burst_target_phys ?? '0');
    const e = await open();
    await e.protect({ tag: 'burst', virt, phys, length: 8, aliases: 'none' });
    const initial = await guest.readPhysical(phys, 8);
    await run(`echo 'burst ${virt.toString(16)} 1000' > /proc/vmi_attack`);
    await settle(1000);
    expect(events).toHaveLength(1000);
    // The module stores 1, 2, ... 1000 and each event carries the bytes that changed: applied in
    // order to the original contents they replay the whole sequence.
    const state = Buffer.from(initial);
    events.forEach((ev, i) => {
      expect(ev.oldBytes).toEqual(state.subarray(ev.offset, ev.offset + ev.length));
      ev.newBytes.copy(state, ev.offset);
      expect(state.readBigUInt64LE(0)).toBe(BigInt(i + 1));
      if (i > 0) expect(ev.seq).toBeGreaterThan((events[i - 1] as TrapEvent).seq);
    });
    expect(e.counters()).toMatchObject({ queued: 1000, delivered: 1000 });
  });

  it('holds the vCPU in enforce mode until release, and restores the old bytes when asked', async () => {
    const dbr = sym('dirty_background_ratio');
    const before = (await guest.readKernelImage(dbr.virt, 4)).readUInt32LE(0);
    const e = await open('enforce');
    await e.protect({ tag: 'dbr', virt: dbr.virt, phys: dbr.phys, length: 4, aliases: 'none' });
    const job = guest.exec(`echo ${before === 41 ? 42 : 41} > ${sysctl}; cat ${sysctl}`);
    await settle(1);
    expect(events).toHaveLength(1);
    const ev = events[0] as TrapEvent;
    expect(ev.held).toBe(true);
    expect(e.counters().held).toBe(1);
    // While held the guest cannot finish the command.
    const raced = await Promise.race([job.then(() => 'finished'), new Promise((r) => setTimeout(() => r('held'), 500))]);
    expect(raced).toBe('held');
    await e.release(ev.seq, { restore: true });
    const out = await job;
    expect(out.output.trim().split('\n').pop()).toBe(String(before));
    await expect(e.release(ev.seq)).rejects.toMatchObject({ code: 'VMI_ERR_NATIVE_TRAP_NOT_FOUND' });
  });

  it('leaves the guest running when the process holding the traps is killed', async () => {
    const dbr = sym('dirty_background_ratio');
    const fixture = fileURLToPath(new URL('./fixtures/hold-traps.ts', import.meta.url));
    const address = guest.gdbAddress;
    if (address === undefined) throw new Error('guest has no gdbstub');
    const child = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', fixture, String(address.port), guest.ramPath, String(dbr.phys), String(dbr.virt), '4'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise((r) => child.on('exit', r));
    try {
      const deadline = Date.now() + 60_000;
      while (!out.includes('READY') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      expect(out).toContain('READY');
      // Traps work while the holder lives...
      await run(`echo 23 > ${sysctl}`);
      const seen = Date.now() + 10_000;
      while (!out.includes('EVENT') && Date.now() < seen) await new Promise((r) => setTimeout(r, 20));
      expect(out).toContain('EVENT 1 held');
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    // ...and after SIGKILL a write to the watched variable neither freezes the guest nor needs QMP.
    expect((await guest.exec(`echo 24 > ${sysctl}; cat ${sysctl}`, { timeoutMs: 15_000 })).output).toContain('24');
    expect((await guest.status()).status).toBe('running');
    // The gdbstub is free again: a new engine attaches and traps.
    const e = await open();
    await e.protect({ tag: 'dbr', virt: dbr.virt, phys: dbr.phys, length: 4 });
    await run(`echo 25 > ${sysctl}`);
    await settle(1);
    expect(events.map((ev) => ev.tag)).toEqual(['dbr']);
  });
});

describe('gdbstub trap holder that dies of an uncaught exception', () => {
  it('leaves the guest running', async () => {
    const dbr = sym('dirty_background_ratio');
    const fixture = fileURLToPath(new URL('./fixtures/hold-traps.ts', import.meta.url));
    const address = guest.gdbAddress;
    if (address === undefined) throw new Error('guest has no gdbstub');
    const child = spawn(
      process.execPath,
      [
        '--conditions=source',
        '--import',
        'tsx',
        fixture,
        String(address.port),
        guest.ramPath,
        String(dbr.phys),
        String(dbr.virt),
        '4',
        'throw',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', () => undefined);
    const code = await new Promise((r) => child.on('exit', r));
    expect(out).toContain('READY');
    expect(code).not.toBe(0);
    expect((await guest.exec(`echo 26 > ${sysctl}; cat ${sysctl}`, { timeoutMs: 15_000 })).output).toContain('26');
  });
});
