import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { attackCommands, type Guest, imageVirtToPhys, launchGuest, readAttackStatus, readStoreTimes, symbolAddress } from '@vmi/guest';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openTrapEngine, type TrapEngine } from './trap-engine.js';
import type { TrapEvent } from './types.js';
import { uffdShimEnv } from './uffd-shim.js';

// One guest, started with the preload shim, for the whole file.
let guest: Guest;
let dir: string;
let socketPath: string;
let engine: TrapEngine | undefined;
const events: TrapEvent[] = [];

async function open(): Promise<TrapEngine> {
  engine = await openTrapEngine({
    backend: 'uffd',
    ramPath: guest.ramPath,
    uffd: { socketPath },
    onEvents: (batch) => events.push(...batch),
  });
  return engine;
}

async function attack(command: string): Promise<Record<string, string>> {
  const result = await guest.exec(`echo '${command}' > /proc/vmi_attack && cat /proc/vmi_attack`);
  expect(result.exitCode, result.output).toBe(0);
  const last = result.output.split('\n').find((l) => l.startsWith('last=')) ?? '';
  return Object.fromEntries(
    last
      .slice(5)
      .split(' ')
      .flatMap((kv) => (kv.includes('=') ? [kv.split('=', 2) as [string, string]] : [])),
  );
}

async function settle(count: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (events.filter((e) => e.kind === 'write').length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 300));
}

function le64(hex: string): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(hex));
  return b;
}

/** Applies an event's changed bytes to the old value of a `width`-byte slot at `slotPhys`. */
function replay(ev: TrapEvent, slotPhys: bigint, old: Buffer): Buffer {
  const off = Number((ev.phys ?? 0n) - slotPhys);
  expect(ev.oldBytes).toEqual(old.subarray(off, off + ev.length));
  const out = Buffer.from(old);
  ev.newBytes.copy(out, off);
  return out;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vmi-uffd-'));
  socketPath = join(dir, 'uffd.sock');
  guest = await launchGuest({ name: 'uffdtraps', env: uffdShimEnv(socketPath) });
});

afterAll(async () => {
  await engine?.close();
  await guest?.close();
  rmSync(dir, { recursive: true, force: true });
});

afterEach(async () => {
  await engine?.close();
  engine = undefined;
  events.length = 0;
  if (guest?.running) await guest.exec("echo 'restore' > /proc/vmi_attack");
});

describe('userfaultfd physical trap backend on a real guest', () => {
  it('traps sys_call_table, IDT and kernel text writes through the image, direct-map and vmap aliases', async () => {
    const p = guest.profile;
    const sct = symbolAddress(p, 'sys_call_table');
    const idt = symbolAddress(p, 'idt_table');
    const text = symbolAddress(p, '__x64_sys_kexec_load');
    const e = await open();
    await e.protect({ tag: 'sys_call_table', phys: imageVirtToPhys(p, sct), length: 8 * 256 });
    await e.protect({ tag: 'idt_table', phys: imageVirtToPhys(p, idt), length: 4096 });
    await e.protect({ tag: 'text', phys: imageVirtToPhys(p, text), length: 16 });

    const aliases = ['image', 'direct', 'vmap'] as const;
    for (const [i, alias] of aliases.entries()) {
      // A different slot per alias, so every write changes memory.
      const hook = await attack(`hook-syscall ${sct.toString(16)} ${i + 3} ${alias}`);
      const gate = await attack(`hook-idt ${idt.toString(16)} ${i + 3} ${alias}`);
      const patch = await attack(`patch-text ${(text + BigInt(i)).toString(16)} ${alias}`);
      await settle(3 * (i + 1));
      const [evSct, evIdt, evText] = events.filter((ev) => ev.kind === 'write').slice(3 * i);
      if (evSct === undefined || evIdt === undefined || evText === undefined) throw new Error(`missing events for ${alias}`);

      const sctSlot = imageVirtToPhys(p, BigInt(hook.addr ?? '0'));
      expect(evSct).toMatchObject({ tag: 'sys_call_table', backend: 'uffd', alias: 'physical' });
      expect(evSct.phys !== null && evSct.phys >= sctSlot && evSct.phys < sctSlot + 8n).toBe(true);
      expect(replay(evSct, sctSlot, le64(hook.old ?? '0'))).toEqual(le64(hook.new ?? '0'));

      const idtSlot = imageVirtToPhys(p, BigInt(gate.addr ?? '0'));
      expect(evIdt).toMatchObject({ tag: 'idt_table' });
      expect(replay(evIdt, idtSlot, le64(gate.old ?? '0'))).toEqual(le64(gate.new ?? '0'));

      const textByte = imageVirtToPhys(p, BigInt(patch.addr ?? '0'));
      expect(evText).toMatchObject({ tag: 'text', phys: textByte, offset: i, length: 1 });
      expect(evText.oldBytes[0]).toBe(Number(BigInt(patch.old ?? '0')));
      expect(evText.newBytes[0]).toBe(Number(BigInt(patch.new ?? '0')));
    }
    expect(events.filter((ev) => ev.kind !== 'write')).toEqual([]);
  });

  it('traps every one of a series of spaced single stores, each event carrying that store', async () => {
    const status = await readAttackStatus(guest);
    const e = await open();
    await e.protect({ tag: 'burst', phys: status.burstTargetPhys, length: 8 });
    let value = await guest.readPhysical(status.burstTargetPhys, 8);
    // Stores 20 ms apart: the engine has protected the page again long before the next one.
    const result = await guest.exec(attackCommands.timeStores(status.burstTarget, 20, 20_000));
    expect(result.exitCode, result.output).toBe(0);
    expect(await readStoreTimes(guest)).toHaveLength(20);
    await settle(20);
    const writes = events.filter((ev) => ev.kind === 'write');
    expect(writes).toHaveLength(20);
    // The module counts its stores: each event's new value is one more than the one before. (An
    // event may still say `merged` when the engine re-protected late on a busy machine: it cannot
    // tell then whether more than one store got through.)
    let first = 0n;
    for (const [i, ev] of writes.entries()) {
      expect(ev).toMatchObject({ tag: 'burst' });
      value = replay(ev, status.burstTargetPhys, value);
      if (i === 0) first = value.readBigUInt64LE(0);
      expect(value.readBigUInt64LE(0)).toBe(first + BigInt(i));
    }
  });

  it('reports nothing for an idle guest or for writes to other pages', async () => {
    const p = guest.profile;
    const e = await open();
    await e.protect({ tag: 'sys_call_table', phys: imageVirtToPhys(p, symbolAddress(p, 'sys_call_table')), length: 8 * 256 });
    await e.protect({ tag: 'idt_table', phys: imageVirtToPhys(p, symbolAddress(p, 'idt_table')), length: 4096 });
    await new Promise((r) => setTimeout(r, 3000));
    const info = await guest.exec('cat /proc/vmi_attack');
    const burst = /burst_target=(0x[0-9a-f]+)/.exec(info.output)?.[1] ?? '0';
    await attack(`burst ${burst.slice(2)} 100`);
    await guest.exec('echo 20 > /proc/sys/vm/dirty_background_ratio');
    await settle(0);
    expect(events).toEqual([]);
    expect(e.counters()).toMatchObject({ queued: 0, unmatchedStops: 0 });
  });

  it('keeps QMP and the gdbstub working in a QEMU that carries the shim', async () => {
    const e = await open();
    expect(e.describe()).toMatch(/qemu pid \d+/);
    expect((await guest.status()).status).toBe('running');
    const address = guest.gdbAddress;
    if (address === undefined) throw new Error('guest has no gdbstub');
    const gdb = await openTrapEngine({ backend: 'gdbstub', ramPath: guest.ramPath, gdbstub: address, onEvents: () => undefined });
    try {
      expect(gdb.describe()).toContain('target.xml');
    } finally {
      await gdb.close();
    }
  });

  it('leaves the guest running when the trap holder is stopped or killed, and a new holder protects again', async () => {
    const p = guest.profile;
    const sct = symbolAddress(p, 'sys_call_table');
    const fixture = fileURLToPath(new URL('./fixtures/hold-uffd.ts', import.meta.url));
    const child: ChildProcess = spawn(
      process.execPath,
      ['--conditions=source', '--import', 'tsx', fixture, socketPath, guest.ramPath, String(imageVirtToPhys(p, sct)), String(8 * 256)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise((r) => child.on('exit', r));
    const waitFor = async (text: string, ms = 30_000) => {
      const deadline = Date.now() + ms;
      while (!out.includes(text) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
      expect(out).toContain(text);
    };
    try {
      await waitFor('READY', 60_000);
      await attack(`hook-syscall ${sct.toString(16)} 10 image`);
      await waitFor('EVENT write held');

      // Stopped holder: the faulting write waits for the watchdog, then the guest goes on.
      child.kill('SIGSTOP');
      await attack(`hook-syscall ${sct.toString(16)} 11 direct`);
      expect((await guest.exec('echo alive', { timeoutMs: 10_000 })).output).toContain('alive');
      child.kill('SIGCONT');
      await waitFor('EVENT protection-restored');
      // The write made while unprotected is still reported, from the diff taken when re-arming.
      expect(out).toMatch(/EVENT protection-lost null\nEVENT write held\nEVENT protection-restored null/);
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    // Killed holder: writes to the page no longer block.
    await attack(`hook-syscall ${sct.toString(16)} 12 vmap`);
    expect((await guest.status()).status).toBe('running');
    // A new holder gets a fresh descriptor from the shim and traps again.
    const e = await open();
    await e.protect({ tag: 'sys_call_table', phys: imageVirtToPhys(p, sct), length: 8 * 256 });
    await attack(`hook-syscall ${sct.toString(16)} 13 image`);
    await settle(1);
    expect(events.map((ev) => [ev.kind, ev.tag])).toEqual([['write', 'sys_call_table']]);
  });
});
