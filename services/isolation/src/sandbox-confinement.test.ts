import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultManifest, type Harness, type ProbeReport, runProbe, startHarness, testGuestImage, withProbe } from './test-support.js';

function byTarget(reports: ProbeReport[], check: string, target: string): ProbeReport | undefined {
  return reports.find((r) => r.check === check && r.target === target);
}

describe('a restricted component cannot escape its execution environment', () => {
  let h: Harness;
  let reports: ProbeReport[];
  beforeAll(async () => {
    h = await startHarness({ manifest: withProbe(await defaultManifest()) });
    const image = await testGuestImage();
    await Promise.all([h.registry.ensure('victim', image), h.registry.ensure('attacker', image)]);
    const victim = h.registry.inspect('victim');
    const own = h.registry.inspect('attacker');
    reports = await runProbe(h, 'attacker', 'probe', [
      ...['read-file', victim.endpoints.ram_file as string],
      ...['read-file', `/proc/1/root${victim.endpoints.ram_file as string}`],
      ...['socket', 'inet', 'socket', 'inet6', 'socket', 'netlink', 'socket', 'packet'],
      ...['tcp-connect', '127.0.0.1', '4222'],
      ...['write-file', '/escape', 'write-file', '/usr/escape', 'write-file', `${own.directory}/ram/escape`],
      ...['write-file', `${victim.directory}/ram/escape`],
      'capability',
      ...['syscall', 'sysinfo', 'syscall', 'uname', 'syscall', 'ptrace'],
      ...['pids', '50'],
      ...['memory', '96'],
    ]);
  });
  afterAll(async () => {
    await h?.close();
  });

  it("cannot read another guest's RAM file", () => {
    const victim = h.registry.inspect('victim').endpoints.ram_file as string;
    expect(byTarget(reports, 'read-file', victim)).toMatchObject({ outcome: 'denied', errno: 'ENOENT' });
    expect(byTarget(reports, 'read-file', `/proc/1/root${victim}`)).toMatchObject({ outcome: 'denied' });
  });

  it('cannot open a network socket', () => {
    for (const family of ['inet', 'inet6', 'netlink', 'packet']) {
      expect(byTarget(reports, 'socket', family)).toMatchObject({ outcome: 'denied', errno: 'EPERM' });
    }
    expect(byTarget(reports, 'tcp-connect', '127.0.0.1:4222')?.outcome).toBe('denied');
  });

  it('cannot write outside its granted paths', () => {
    const own = h.registry.inspect('attacker').directory;
    const victim = h.registry.inspect('victim').directory;
    expect(byTarget(reports, 'write-file', '/escape')).toMatchObject({ outcome: 'denied', errno: 'EROFS' });
    expect(byTarget(reports, 'write-file', '/usr/escape')?.outcome).toBe('denied');
    // Its own guest's RAM directory is granted read-only.
    expect(byTarget(reports, 'write-file', `${own}/ram/escape`)).toMatchObject({ outcome: 'denied', errno: 'EROFS' });
    expect(byTarget(reports, 'write-file', `${victim}/ram/escape`)).toMatchObject({ outcome: 'denied', errno: 'ENOENT' });
  });

  it('cannot gain a capability', () => {
    const caps = reports.filter((r) => r.check === 'capability');
    expect(caps.map((r) => r.target)).toEqual(['held', 'capset-all', 'setuid-0', 'unshare-user-namespace']);
    for (const r of caps) expect(r.outcome, `${r.target}: ${r.detail}`).toBe('denied');
    expect(caps[0]?.detail).toBe('effective=0000000000000000 permitted=0000000000000000');
  });

  it('cannot call a system call outside its filter', () => {
    for (const name of ['sysinfo', 'uname', 'ptrace']) {
      expect(byTarget(reports, 'syscall', name)).toMatchObject({ outcome: 'denied', errno: 'EPERM' });
    }
  });

  it('cannot exceed its pid limit', () => {
    const pids = byTarget(reports, 'pids', '50');
    expect(pids).toMatchObject({ outcome: 'denied', errno: 'EAGAIN' });
    // 8 tasks: bubblewrap's two, the probe, so at most five children.
    expect(Number(/forked=(\d+)/.exec(pids?.detail ?? '')?.[1])).toBeLessThanOrEqual(5);
  });

  it('cannot exceed its memory limit', () => {
    expect(byTarget(reports, 'memory', '96')).toMatchObject({ outcome: 'denied', detail: 'killed by signal 9' });
  });
});
