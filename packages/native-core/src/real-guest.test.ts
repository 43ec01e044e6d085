import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureGuestImage, type Guest, imageVirtToPhys, launchGuest, symbolAddress } from '@vmi/guest';
import { cont, QmpClient, stop } from '@vmi/qmp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GenerationTable, GuestMemory, guardedCopy, openTrapEngine, type PauseControl, uffdShimEnv } from './index.js';

// One guest for the file: a boot under software emulation costs seconds; a first image build more.
// It runs with the userfaultfd shim so the trap engine can maintain a write-generation table.
let dir: string;
let guest: Guest;
let memory: GuestMemory;
let qmp: QmpClient;

beforeAll(async () => {
  const image = await ensureGuestImage();
  dir = mkdtempSync(join(tmpdir(), 'vmi-native-guest-'));
  guest = await launchGuest({
    image,
    name: `native-core-${randomBytes(3).toString('hex')}`,
    gdb: false,
    qmpSockets: 1,
    env: uffdShimEnv(join(dir, 'uffd.sock')),
  });
  memory = GuestMemory.open(guest.ramPath);
  const [qmpPath] = guest.qmpPaths;
  if (qmpPath === undefined) throw new Error('guest has no QMP socket');
  qmp = await QmpClient.connect(qmpPath);
}, 600_000);

afterAll(async () => {
  await qmp?.close();
  memory?.close();
  await guest?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

/** Any instant of the halves buffer is round r+1 for a prefix of its words and round r for the rest. */
function isInstant(buffer: Buffer): boolean {
  const words = Array.from({ length: buffer.length / 8 }, (_, i) => buffer.readBigUInt64LE(i * 8));
  const first = words[0] ?? 0n;
  const boundary = words.findIndex((w) => w !== first);
  if (boundary === -1) return true;
  const rest = words[boundary] ?? 0n;
  return rest === first - 1n && words.slice(boundary).every((w) => w === rest);
}

/** Starts the module's halves kthread and returns where its buffer lies. */
async function startHalves(seconds: number): Promise<{ phys: bigint; length: number }> {
  expect((await guest.exec(`echo 'halves ${seconds}' > /proc/vmi_attack`)).exitCode).toBe(0);
  const status = await attackStatus();
  const length = Number(status.get('halves_len'));
  expect(length).toBe(64 * 1024);
  return { phys: BigInt(status.get('halves_phys') ?? '0'), length };
}

/** CR3 of whatever the vCPU runs right now, from the monitor's register dump. */
async function currentCr3(): Promise<bigint> {
  const dump = await qmp.execute<string>('human-monitor-command', { 'command-line': 'info registers' });
  const match = /CR3=([0-9a-f]+)/i.exec(dump);
  if (match?.[1] === undefined) throw new Error(`no CR3 in: ${dump.slice(0, 200)}`);
  return BigInt(`0x${match[1]}`);
}

/** The module's status lines (`key=value`). */
async function attackStatus(): Promise<Map<string, string>> {
  const { output } = await guest.exec('cat /proc/vmi_attack');
  return new Map(output.split('\n').flatMap((line) => (line.includes('=') ? [line.split('=', 2) as [string, string]] : [])));
}

describe('a real guest through the RAM file', () => {
  it('reads the kernel banner and a known symbol at their physical addresses', () => {
    const { profile } = guest;
    const banner = memory.readPhysSync(imageVirtToPhys(profile, BigInt(profile.linuxBanner)), Buffer.byteLength(profile.banner));
    expect(banner.toString('utf8')).toBe(profile.banner);
    // sys_call_table[0] points at the read syscall's entry in kernel text.
    const entry = memory.readPhysSync(imageVirtToPhys(profile, BigInt(profile.sysCallTable)), 8).readBigUInt64LE();
    expect(entry).toBe(symbolAddress(profile, '__x64_sys_read'));
  });

  it('reads a user-space buffer through a page walk from the process CR3', async () => {
    const marker = `VMI-NATIVE-${randomBytes(6).toString('hex')}`;
    const job = guest.spawn(`peek ${marker} 0 spin`);
    try {
      const found = await job.waitForLine(/PEEK pid=\d+ va=(0x[0-9a-f]+) len=(\d+)/);
      const va = BigInt(found[1] ?? '0');
      const length = Number(found[2]);
      // The spinning program holds the vCPU most of the time; another CR3 (the shell, a kernel
      // thread) does not map the page, so sample until the walk finds it.
      let read: string | undefined;
      for (let i = 0; i < 50 && read !== marker; i++) {
        const cr3 = await currentCr3();
        try {
          read = memory.readVirtSync(cr3, va, length).toString('latin1');
        } catch {
          await sleep(50);
        }
      }
      expect(read).toBe(marker);
    } finally {
      job.kill('KILL');
    }
  });

  it('copies the module’s rewritten halves buffer consistently with the pause guard', async () => {
    const { phys, length } = await startHalves(60);
    const pause: PauseControl = { pause: () => stop(qmp), resume: () => cont(qmp) };
    try {
      for (let i = 0; i < 30; i++) {
        const [copy] = (await guardedCopy(memory, { phys, length }, { guard: 'pause', pause })).buffers;
        expect(copy !== undefined && isInstant(copy), `copy ${i}`).toBe(true);
        await sleep(20);
      }
      // Control: without the pause the same check does catch torn copies (a few in a hundred here).
      const noPause: PauseControl = { pause: async () => {}, resume: async () => {} };
      let torn = 0;
      for (let i = 0; i < 2000 && torn === 0; i++) {
        const [copy] = (await guardedCopy(memory, { phys, length }, { guard: 'pause', pause: noPause })).buffers;
        if (copy !== undefined && !isInstant(copy)) torn++;
      }
      expect(torn).toBeGreaterThan(0);
      // The kthread was really running: rounds advanced while the guest ran between copies.
      expect(Number((await attackStatus()).get('halves_rounds'))).toBeGreaterThan(0);
    } finally {
      await guest.exec("echo 'halves 0' > /proc/vmi_attack");
    }
  });

  it('copies it consistently with the trap guard, over generations the trap engine keeps', async () => {
    const { phys, length } = await startHalves(60);
    const generationPath = join(dir, 'generations');
    const engine = await openTrapEngine({
      backend: 'uffd',
      ramPath: guest.ramPath,
      uffd: { socketPath: join(dir, 'uffd.sock') },
      generationTable: { path: generationPath, slots: 8 },
      onEvents: () => {},
    });
    const table = GenerationTable.open(generationPath);
    let aborts = 0;
    try {
      await engine.protect({ tag: 'halves', phys, length });
      // At least 30 copies, and more (bounded) until one overlapped a guest write: on a loaded
      // machine the guest's writer may be descheduled through many copies.
      for (let i = 0; i < 600 && (i < 30 || aborts === 0); i++) {
        const result = await guardedCopy(memory, { phys, length }, { guard: 'trap', generationTable: table, maxAttempts: 100 });
        const [copy] = result.buffers;
        expect(copy !== undefined && isInstant(copy), `copy ${i}`).toBe(true);
        aborts += result.aborts;
      }
      // The guest's stores reached the trap engine, which bumped the generations the guard read.
      expect(table.read().globalGen).toBeGreaterThan(0n);
    } finally {
      table.close();
      await engine.close();
      await guest.exec("echo 'halves 0' > /proc/vmi_attack");
    }
    expect(aborts).toBeGreaterThan(0);
  });
});
