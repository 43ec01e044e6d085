import { QmpClient, sendKeys } from '@vmi/qmp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureGuestImage } from '../image/ensure-guest-image.js';
import { type Guest, launchGuest } from '../launcher/launch-guest.js';
import { imageVirtToPhys, symbolAddress } from '../profile/guest-profile.js';
import { attackCommands, readAttackStatus, readStoreTimes, type WriteAlias } from './attack-commands.js';

// One guest for the file. Every change an attack makes is checked where the host sees it: in
// guest-physical memory, through the shared RAM file.
let guest: Guest;

// A first run builds the image (a minute or more on a busy machine) before anything boots.
const BUILD_AND_BOOT_TIMEOUT_MS = 600_000;

beforeAll(async () => {
  guest = await launchGuest({ image: await ensureGuestImage(), name: 'attack-test', gdb: false });
}, BUILD_AND_BOOT_TIMEOUT_MS);

afterAll(async () => {
  await guest?.close();
});

async function qword(pa: bigint): Promise<bigint> {
  return (await guest.readPhysical(pa, 8)).readBigUInt64LE(0);
}

async function ok(command: string): Promise<string> {
  const result = await guest.exec(command);
  expect(result, command).toMatchObject({ exitCode: 0 });
  return result.output;
}

const ALIASES: WriteAlias[] = ['image', 'direct', 'vmap'];

describe('the vmi_attack module', () => {
  it('replaces a sys_call_table entry through every alias, and restores it', async () => {
    const { profile } = guest;
    const status = await readAttackStatus(guest);
    const entry = imageVirtToPhys(profile, BigInt(profile.sysCallTable) + 39n * 8n);
    const original = await qword(entry);
    expect(original >> 32n).toBe(0xffffffffn);
    for (const alias of ALIASES) {
      await ok(attackCommands.hookSyscall(profile, 39, alias));
      expect(await qword(entry), alias).toBe(status.hookSyscall);
      await ok(attackCommands.restore());
      expect(await qword(entry), alias).toBe(original);
    }
  });

  it('points an IDT gate at module text and restores it', async () => {
    const { profile } = guest;
    const status = await readAttackStatus(guest);
    const gate = imageVirtToPhys(profile, BigInt(profile.idtTable) + 0x80n * 16n);
    const original = await guest.readPhysical(gate, 16);
    await ok(attackCommands.hookIdt(profile, 0x80, 'direct'));
    const hooked = await guest.readPhysical(gate, 16);
    const handler = BigInt(hooked.readUInt16LE(0)) | (BigInt(hooked.readUInt16LE(6)) << 16n) | (BigInt(hooked.readUInt32LE(8)) << 32n);
    expect(handler).toBe(status.hookHandler);
    expect(hooked.subarray(2, 6)).toEqual(original.subarray(2, 6));
    await ok(attackCommands.restore());
    expect(await guest.readPhysical(gate, 16)).toEqual(original);
  });

  it('flips a byte of kernel text through a fresh vmap alias, and restores it', async () => {
    const { profile } = guest;
    const target = symbolAddress(profile, '__x64_sys_kexec_load');
    const pa = imageVirtToPhys(profile, target);
    const [before = 0] = await guest.readPhysical(pa, 1);
    await ok(attackCommands.patchText(target, 'vmap'));
    expect((await guest.readPhysical(pa, 1))[0]).toBe(before ^ 0xff);
    await ok(attackCommands.restore());
    expect((await guest.readPhysical(pa, 1))[0]).toBe(before);
    expect((await readAttackStatus(guest)).changes).toBe(0);
  });

  it('bursts single stores at its own target and rewrites the two-halves buffer consistently', async () => {
    const status = await readAttackStatus(guest);
    await ok(attackCommands.burst(status.burstTarget, 1000));
    expect(await qword(status.burstTargetPhys)).toBe(1000n);

    await ok(attackCommands.halves(1));
    let halves = (await readAttackStatus(guest)).halves;
    for (let i = 0; i < 100 && halves?.running; i++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      halves = (await readAttackStatus(guest)).halves;
    }
    if (!halves) throw new Error('no halves buffer');
    expect(halves.running).toBe(false);
    expect(halves.rounds).toBeGreaterThan(0);
    const buffer = await guest.readPhysical(halves.phys, halves.length);
    const words = new BigUint64Array(buffer.buffer, buffer.byteOffset, buffer.length / 8);
    expect(words.every((w) => w === BigInt(halves.rounds))).toBe(true);
  });

  it('times single stores with the guest clock, each writing a new value', async () => {
    const status = await readAttackStatus(guest);
    await ok(attackCommands.timeStores(status.burstTarget, 1, 0));
    const before = await qword(status.burstTargetPhys);
    await ok(attackCommands.timeStores(status.burstTarget, 20, 100));
    expect(await qword(status.burstTargetPhys)).toBe(before + 20n);
    const times = await readStoreTimes(guest);
    expect(times).toHaveLength(20);
    expect(times.every((ns) => Number.isInteger(ns) && ns >= 0)).toBe(true);
    expect((await readAttackStatus(guest)).last).toBe(`time-stores addr=0x${status.burstTarget.toString(16)} count=20 gap_us=100`);
    // Kernel text is not writable: the module refuses instead of faulting.
    const text = symbolAddress(guest.profile, '__x64_sys_kexec_load') & ~7n;
    expect((await guest.exec(attackCommands.timeStores(text, 1, 0))).exitCode).not.toBe(0);
    expect(() => attackCommands.timeStores(status.burstTarget, 10_001, 0)).toThrow();
  });

  it('rejects malformed requests with a failed write and says why', async () => {
    expect((await guest.exec("echo 'poke 0x1000 0x1 3 image 1' > /proc/vmi_attack")).exitCode).not.toBe(0);
    expect((await guest.exec("echo 'poke 0x10 0x1 8 image 1' > /proc/vmi_attack")).exitCode).not.toBe(0);
    expect((await guest.exec("echo 'launch-missiles' > /proc/vmi_attack")).exitCode).not.toBe(0);
    expect((await readAttackStatus(guest)).last).toMatch(/^error launch-missiles -22$/);
    expect(() => attackCommands.poke(0x1000n, 0x100n, 1, 'image')).toThrow();
  });
});

describe('the guest attack and workload programs', () => {
  it('sysctl-attack overwrites modprobe_path and core_pattern in kernel memory', async () => {
    const { profile } = guest;
    const output = await ok(attackCommands.sysctlAttack());
    expect(output).toContain('AFTER modprobe_path=/tmp/vmi-pwn');
    const modprobe = await guest.readPhysical(imageVirtToPhys(profile, BigInt(profile.modprobePath)), 13);
    expect(modprobe.toString('latin1')).toBe('/tmp/vmi-pwn\0');
    const core = await guest.readPhysical(imageVirtToPhys(profile, BigInt(profile.corePattern)), 17);
    expect(core.toString('latin1')).toBe('|/tmp/vmi-pwn %p\0');
    await ok(attackCommands.sysctlAttack({ name: 'modprobe_path', value: '/sbin/modprobe' }));
    await ok(attackCommands.sysctlAttack({ name: 'core_pattern', value: 'core' }));
  });

  it('peek holds a known string and reports where', async () => {
    const job = guest.spawn('peek VMI-PEEK-TEST 0');
    const [, pid, va, text] = (await job.waitForLine(/^PEEK pid=(\d+) va=(0x[0-9a-f]+) len=\d+ text=(.*)$/)) ?? [];
    expect(Number(pid)).toBeGreaterThan(1);
    expect(BigInt(va ?? '0') % 4096n).toBe(0n);
    expect(text).toBe('VMI-PEEK-TEST');
    job.kill('TERM');
    expect(await job.exited).toBe(143);
  });

  it('keylog sees keys injected through QMP on the active keyboard device', async () => {
    const [qmpPath] = guest.qmpPaths;
    if (!qmpPath) throw new Error('no QMP socket');
    const qmp = await QmpClient.connect(qmpPath);
    try {
      const job = guest.spawn('keylog 2');
      await job.waitForLine(/^KEYLOG ready device=\/dev\/input\/keyboard$/);
      await sendKeys(qmp, ['a']);
      expect(await job.exited).toBe(0);
      expect(job.lines.filter((l) => l.startsWith('KEY '))).toEqual(['KEY 30 1', 'KEY 30 0']);
    } finally {
      await qmp.close();
    }
  });

  it('workload runs a fixed amount of CPU, system-call and fork/exec work', async () => {
    const output = await ok('workload -n 3');
    expect(output).toMatch(/^WORKLOAD rounds=3 elapsed_us=\d+ syscalls=\d+ forks=3 fork_failures=0 /);
  });
});
