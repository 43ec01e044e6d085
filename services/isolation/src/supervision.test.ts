import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { defaultManifest, eventually, type Harness, probeOnly, startHarness } from './test-support.js';

/** The component's own program: the process in its cgroup that is not bubblewrap. */
async function programPid(cgroup: string): Promise<number> {
  const pids = (await readFile(join(cgroup, 'cgroup.procs'), 'utf8')).split('\n').filter(Boolean).map(Number);
  for (const pid of pids) if ((await readFile(`/proc/${pid}/comm`, 'utf8')).trim() !== 'bwrap') return pid;
  throw new Error('no program process in the cgroup');
}

describe('supervision', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('restarts a killed component', async () => {
    h = await startHarness({ manifest: probeOnly(await defaultManifest()) });
    const before = (await h.registry.ensure('sup-1')).components[0];
    const victim = await programPid(before?.cgroup as string);
    process.kill(victim, 'SIGKILL');
    const harness = h;
    await eventually(() => harness.seen('component-ready', 'probe').length === 2, 'the restarted component to be ready');
    const after = h.registry.inspect('sup-1').components[0];
    expect(after?.state).toBe('ready');
    expect(after?.restarts).toBe(1);
    expect(after?.pid).not.toBe(before?.pid);
    expect(await programPid(after?.cgroup as string)).not.toBe(victim);
    const exited = h.seen('component-exited', 'probe')[0];
    expect(exited?.exit).toEqual({ code: 137, signal: null });
    expect(h.seen('component-restarting', 'probe')).toHaveLength(1);
  });

  it('stops a crash loop with an event instead of spinning', async () => {
    h = await startHarness({ manifest: probeOnly(await defaultManifest(), { program: ['exit', '3'], crashLoop: { restarts: 2 } }) });
    await expect(h.registry.ensure('sup-2')).rejects.toMatchObject({ code: 'VMI_ERR_ISOLATION_CRASH_LOOP' });
    const harness = h;
    await eventually(() => harness.seen('crash-loop', 'probe').length === 1, 'the crash-loop event');
    const starts = h.seen('component-started', 'probe').length;
    expect(starts).toBe(3);
    // Parked: nothing restarts it any more.
    await new Promise((r) => setTimeout(r, 1000));
    expect(h.seen('component-started', 'probe')).toHaveLength(starts);
    const status = h.registry.inspect('sup-2');
    expect(status.state).toBe('degraded');
    expect(status.components[0]).toMatchObject({ state: 'crash-loop', pid: null, last_exit: { code: 3, signal: null } });
  });

  it('stops gracefully, leaving no process, cgroup or directory behind', async () => {
    h = await startHarness({ manifest: probeOnly(await defaultManifest()) });
    const status = await h.registry.ensure('sup-3');
    const cgroup = status.components[0]?.cgroup as string;
    await h.registry.stop('sup-3');
    await expect(readFile(join(cgroup, 'cgroup.procs'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(readFile(join(status.directory, 'probe', 'probe.sock'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(() => h?.registry.inspect('sup-3')).toThrow(expect.objectContaining({ code: 'VMI_ERR_ISOLATION_UNKNOWN_GUEST' }));
    const harness = h;
    await eventually(() => harness.seen('stopped').length === 1, 'the stopped event');
  });

  it('adopts its running kernel VMs after a service restart', async () => {
    const first = await startHarness({ manifest: probeOnly(await defaultManifest()) });
    const before = await first.registry.ensure('sup-4');
    await first.close({ stopAll: false, keepDirs: true });
    h = await startHarness({ dirs: first.dirs });
    const after = h.registry.inspect('sup-4');
    expect(after.id).toBe(before.id);
    expect(after.adopted).toBe(true);
    expect(after.components[0]?.pid).toBe(before.components[0]?.pid);
    const harness = h;
    await eventually(() => harness.seen('adopted').length === 1, 'the adopted event');
    // Still supervised: killing the adopted component gets it restarted.
    process.kill(await programPid(after.components[0]?.cgroup as string), 'SIGKILL');
    await eventually(() => harness.seen('component-ready', 'probe').length === 1, 'the adopted component to be restarted');
  });
});
