import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';
import { GuestErrors } from '@vmi/contracts';
import { QmpClient, queryMemdev, queryStatus } from '@vmi/qmp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureGuestImage } from '../image/ensure-guest-image.js';
import type { GuestImage } from '../image/guest-image.js';
import { imageVirtToPhys } from '../profile/guest-profile.js';
import { type Guest, launchGuest } from './launch-guest.js';

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// One guest for the whole file: a boot under software emulation costs seconds.
let image: GuestImage;
let guest: Guest;

// A first run builds the image (a minute or more on a busy machine) before anything boots.
const BUILD_AND_BOOT_TIMEOUT_MS = 600_000;

// Launched from a thread at another priority, as a service or a benchmark ahead of its guests would.
const launcherNice = getPriority();

beforeAll(async () => {
  image = await ensureGuestImage();
  setPriority(launcherNice + 2);
  try {
    guest = await launchGuest({ image, name: 'launch-test', qmpSockets: 2 });
  } finally {
    setPriority(launcherNice);
  }
}, BUILD_AND_BOOT_TIMEOUT_MS);

/** The nice value of each of a process's threads. */
function threadNices(pid: number): number[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

afterAll(async () => {
  await guest?.close();
});

describe('a launched guest', () => {
  it('runs the image kernel and executes commands with their exit codes', async () => {
    expect(guest.kernelRelease).toBe(image.kernelVersion);
    expect(await guest.exec('uname -r')).toEqual({ output: `${image.kernelVersion}\n`, exitCode: 0 });
    expect(await guest.exec('echo out; echo err >&2; exit 7')).toEqual({ output: 'out\nerr\n', exitCode: 7 });
    expect((await guest.exec('printf no-newline')).output).toBe('no-newline\n');
  });

  it('exposes guest RAM: linux_banner at its physical address equals the profile banner', async () => {
    const { profile } = guest;
    const pa = imageVirtToPhys(profile, BigInt(profile.linuxBanner));
    expect(pa).toBe(BigInt(profile.linuxBanner) - 0xffffffff80000000n);
    const bytes = await guest.readPhysical(pa, Buffer.byteLength(profile.banner));
    expect(bytes.toString('utf8')).toBe(profile.banner);
    expect((await guest.exec('cat /proc/version')).output).toBe(profile.banner);
  });

  it("runs at a host's ordinary priority, not at its launcher's", () => {
    const nices = threadNices(guest.pid);
    expect(nices.length).toBeGreaterThan(1);
    expect(new Set(nices)).toEqual(new Set([0]));
  });

  it('refuses a nice value out of range before it starts anything', async () => {
    await expect(launchGuest({ image, nice: 20 })).rejects.toMatchObject({ code: GuestErrors.INVALID_ARGUMENT.code });
    await expect(launchGuest({ image, nice: 1.5 })).rejects.toMatchObject({ code: GuestErrors.INVALID_ARGUMENT.code });
  });

  it('loaded the attack module and evdev', async () => {
    expect((await guest.exec('test -w /proc/vmi_attack')).exitCode).toBe(0);
    expect((await guest.exec('ls /dev/input')).output).toContain('event0');
  });

  it('offers independent QMP monitors and a gdbstub address', async () => {
    expect(guest.qmpPaths).toHaveLength(2);
    const [a, b] = await Promise.all(guest.qmpPaths.map((path) => QmpClient.connect(path)));
    try {
      if (!a || !b) throw new Error('missing monitor');
      expect(await queryStatus(a)).toEqual({ running: true, status: 'running' });
      const [memdev] = await queryMemdev(b);
      expect(memdev).toMatchObject({ share: true, size: guest.memoryMiB * 1024 * 1024 });
    } finally {
      await Promise.all([a?.close(), b?.close()]);
    }
    expect(guest.gdbAddress?.host).toBe('127.0.0.1');
    expect(guest.gdbAddress?.port).toBeGreaterThan(0);
  });

  it('pauses and resumes the vCPUs; a paused guest runs nothing until resumed', async () => {
    const a = await QmpClient.connect(guest.qmpPaths[0] ?? '');
    try {
      await guest.pause();
      expect(await queryStatus(a)).toEqual({ running: false, status: 'paused' });
      const job = guest.exec('echo resumed', { timeoutMs: 30_000 });
      let done = false;
      void job.then(() => {
        done = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(done).toBe(false);
      await guest.resume();
      expect(await queryStatus(a)).toEqual({ running: true, status: 'running' });
      expect((await job).output).toBe('resumed\n');
    } finally {
      await a.close();
    }
  });

  it('streams output of a long-running command, and kills it on request', async () => {
    const job = guest.spawn('i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.2; done');
    const lines: string[] = [];
    job.on('line', (line) => lines.push(line));
    await job.waitForLine(/^tick 2$/, 30_000);
    job.kill('KILL');
    expect(await job.exited).toBe(137);
    expect(lines.slice(0, 3)).toEqual(['tick 0', 'tick 1', 'tick 2']);
    // The guest is still serving commands afterwards.
    expect((await guest.exec('echo alive')).output).toBe('alive\n');
  });

  it('times out a command that does not finish and refuses malformed command lines', async () => {
    await expect(guest.exec('sleep 30', { timeoutMs: 500 })).rejects.toMatchObject({ code: GuestErrors.EXEC_TIMEOUT.code });
    expect(() => guest.spawn('echo a\necho b')).toThrow(expect.objectContaining({ code: GuestErrors.INVALID_ARGUMENT.code }));
    expect(() => guest.spawn('')).toThrow(expect.objectContaining({ code: GuestErrors.INVALID_ARGUMENT.code }));
    await expect(guest.readPhysical(BigInt(guest.memoryMiB) << 20n, 1)).rejects.toMatchObject({ code: GuestErrors.INVALID_ARGUMENT.code });
  });

  it('close() ends QEMU and removes its RAM file and run directory', async () => {
    const { pid, ramPath, runDir } = guest;
    expect(processAlive(pid)).toBe(true);
    expect(existsSync(ramPath)).toBe(true);
    await guest.close();
    expect(processAlive(pid)).toBe(false);
    expect(existsSync(ramPath)).toBe(false);
    expect(existsSync(runDir)).toBe(false);
    await guest.close();
    expect(() => guest.spawn('true')).toThrow(expect.objectContaining({ code: GuestErrors.EXITED.code }));
  });
});
