import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KernelVmStatus } from '@vmi/contracts';
import { attackCommands, ensureGuestImage, imageVirtToPhys, SerialConsole, symbolAddress } from '@vmi/guest';
import { openTrapEngine, type TrapEngine, type TrapEvent } from '@vmi/native-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultManifest, eventually, type Harness, startHarness, testGuestImage, withoutUffdShim } from './test-support.js';

/** The QEMU process of a kernel VM's device model (not bubblewrap), from its cgroup. */
async function qemuPid(status: KernelVmStatus): Promise<number> {
  const cgroup = status.components.find((c) => c.name === 'device-model')?.cgroup as string;
  const pids = (await readFile(join(cgroup, 'cgroup.procs'), 'utf8')).split('\n').filter(Boolean).map(Number);
  for (const pid of pids) if ((await readFile(`/proc/${pid}/comm`, 'utf8')).startsWith('qemu-system')) return pid;
  throw new Error('no QEMU in the device model cgroup');
}

async function preloads(pid: number): Promise<{ maps: string; environ: string[] }> {
  return {
    maps: await readFile(`/proc/${pid}/maps`, 'utf8'),
    environ: (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0').filter(Boolean),
  };
}

describe('the device model with the userfaultfd shim, in its sandbox', () => {
  let h: Harness;
  let plain: Harness;
  let shimmed: KernelVmStatus;
  let unshimmed: KernelVmStatus;
  let engine: TrapEngine | undefined;
  let serial: SerialConsole | undefined;
  const events: TrapEvent[] = [];
  beforeAll(async () => {
    const image = await testGuestImage();
    h = await startHarness({ manifest: await defaultManifest(), runOnTmpfs: true });
    plain = await startHarness({ manifest: withoutUffdShim(await defaultManifest()) });
    shimmed = await h.registry.ensure('uffd-1', image);
    // Connected before the guest boots, so its ready line is not missed.
    serial = await SerialConsole.connect(
      shimmed.endpoints.serial_socket as string,
      join(h.dirs.base, 'uffd-1-console.log'),
      Date.now() + 10_000,
      () => true,
    );
    unshimmed = await plain.registry.ensure('plain-1', image);
  });
  afterAll(async () => {
    await engine?.close();
    await serial?.close();
    await h?.close();
    await plain?.close();
  });

  it('preloads the shim, with its socket and the RAM file, only when the manifest asks', async () => {
    const on = await preloads(await qemuPid(shimmed));
    expect(on.maps).toContain('vmi_uffd_shim.so');
    expect(on.environ).toContain(`VMI_UFFD_SOCKET=${shimmed.endpoints.uffd_socket}`);
    expect(on.environ).toContain(`VMI_UFFD_RAM_PATH=${shimmed.endpoints.ram_file}`);
    const off = await preloads(await qemuPid(unshimmed));
    expect(off.maps).not.toContain('vmi_uffd_shim.so');
    expect(off.environ.filter((e) => e.startsWith('LD_PRELOAD=') || e.startsWith('VMI_UFFD_'))).toEqual([]);
  });

  it('hands the trap engine a descriptor, and a guest write to a protected page is a trap event', async () => {
    engine = await openTrapEngine({
      backend: 'uffd',
      ramPath: shimmed.endpoints.ram_file as string,
      uffd: { socketPath: shimmed.endpoints.uffd_socket as string },
      onEvents: (batch) => events.push(...batch),
    });
    expect(engine.describe()).toMatch(/qemu pid \d+/);
    const guest = await ensureGuestImage();
    const sct = imageVirtToPhys(guest.profile, symbolAddress(guest.profile, 'sys_call_table'));
    await engine.protect({ tag: 'sys_call_table', phys: sct, length: 8 * 256 });

    if (serial === undefined) throw new Error('no serial console');
    await serial.waitReady(120_000);
    const job = serial.run(attackCommands.hookSyscall(guest.profile, 7, 'vmap'));
    expect(await job.exited).toBe(0);
    await eventually(() => events.some((e) => e.kind === 'write'), 'a trap event for the sys_call_table write');
    const write = events.find((e) => e.kind === 'write');
    expect(write).toMatchObject({ tag: 'sys_call_table', backend: 'uffd', alias: 'physical' });
    expect(write?.phys !== null && (write?.phys ?? 0n) >= sct + 7n * 8n && (write?.phys ?? 0n) < sct + 8n * 8n).toBe(true);
  });
});
