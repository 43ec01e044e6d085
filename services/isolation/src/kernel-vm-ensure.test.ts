import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultManifest, eventually, type Harness, runProbe, startHarness, testGuestImage, withProbe } from './test-support.js';

describe('ensure: one kernel VM per guest, isolated from every other', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ manifest: withProbe(await defaultManifest()) });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('yields one kernel VM for concurrent and repeated calls', async () => {
    const image = await testGuestImage();
    const [a, b] = await Promise.all([h.registry.ensure('guest-a', image), h.registry.ensure('guest-a', image)]);
    const again = await h.registry.ensure('guest-a', image);
    expect(b.id).toBe(a.id);
    expect(again.id).toBe(a.id);
    expect(again.state).toBe('running');
    expect(again.components.map((c) => c.state)).toEqual(['ready', 'ready', 'ready', 'ready', 'ready']);
    expect(h.registry.list()).toHaveLength(1);
    // One device model, not two: exactly one QEMU runs in the device model's cgroup.
    const dm = a.components.find((c) => c.name === 'device-model');
    const pids = (await readFile(join(dm?.cgroup as string, 'cgroup.procs'), 'utf8')).split('\n').filter(Boolean);
    const names = await Promise.all(pids.map((p) => readFile(`/proc/${p}/comm`, 'utf8').then((s) => s.trim())));
    expect(names.filter((n) => n.startsWith('qemu-system'))).toHaveLength(1);
    await eventually(() => h.seen('ensured').length > 0, 'the ensured event');
    expect(h.seen('ensured')).toHaveLength(1);
  });

  it('gives a second guest its own kernel VM, ids and directories', async () => {
    const a = h.registry.inspect('guest-a');
    const b = await h.registry.ensure('guest-b', await testGuestImage());
    expect(b.id).not.toBe(a.id);
    expect(b.directory).not.toBe(a.directory);
    const uidsA = new Set(a.components.map((c) => c.uid));
    expect(b.components.every((c) => !uidsA.has(c.uid))).toBe(true);
    expect(
      h.registry
        .list()
        .map((k) => k.guest)
        .sort(),
    ).toEqual(['guest-a', 'guest-b']);
  });

  it("keeps each guest's files, processes and sockets out of the other's reach", async () => {
    const a = h.registry.inspect('guest-a');
    const b = h.registry.inspect('guest-b');
    for (const [self, other, guest] of [
      [a, b, 'guest-a'],
      [b, a, 'guest-b'],
    ] as const) {
      const reports = await runProbe(h, guest, 'probe', [
        'read-file',
        self.endpoints.ram_file as string,
        'read-file',
        other.endpoints.ram_file as string,
        'read-file',
        join(other.directory, 'console', 'serial.log'),
        'unix-connect',
        other.endpoints.qmp_socket as string,
        'unix-connect',
        other.endpoints.reader_socket as string,
        'procs',
      ]);
      const [ownRam, otherRam, otherLog, otherQmp, otherReader, procs] = reports;
      // The control: its own guest's RAM is readable, so the denials below are the sandbox's doing.
      expect(ownRam?.outcome).toBe('allowed');
      expect(otherRam).toMatchObject({ outcome: 'denied', errno: 'ENOENT' });
      expect(otherLog).toMatchObject({ outcome: 'denied', errno: 'ENOENT' });
      expect(otherQmp).toMatchObject({ outcome: 'denied', errno: 'ENOENT' });
      expect(otherReader).toMatchObject({ outcome: 'denied', errno: 'ENOENT' });
      // Its own pid namespace: bubblewrap's init and the probe itself, nothing of the host or the other guest.
      expect(Number(procs?.target)).toBeLessThanOrEqual(2);
    }
  });
});
