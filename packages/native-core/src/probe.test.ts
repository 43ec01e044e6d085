import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import { describe, expect, it } from 'vitest';
import { probeFeatures } from './index.js';

describe('feature probe', () => {
  const features = probeFeatures();

  it('reports RTM only when both CPUID and the kernel offer it', () => {
    const flags =
      readFileSync('/proc/cpuinfo', 'utf8')
        .match(/^flags\s*:(.*)$/m)?.[1]
        ?.trim()
        .split(/\s+/) ?? [];
    expect(features.cpu.kernelRtmFlag).toBe(flags.includes('rtm'));
    expect(features.cpu.rtm).toBe(features.cpu.cpuidRtm && features.cpu.kernelRtmFlag);
    const model = readFileSync('/proc/cpuinfo', 'utf8')
      .match(/^model name\s*:(.*)$/m)?.[1]
      ?.trim();
    if (model !== undefined) expect(features.cpu.model).toBe(model);
    expect(features.cpu.vendor).toMatch(/^(GenuineIntel|AuthenticAMD|.{12})$/);
  });

  it('reports the running kernel', () => {
    expect(features.kernel.release).toBe(release());
    expect(features.kernel.version.join('.')).toBe(release().match(/^\d+\.\d+\.\d+/)?.[0]);
  });

  it('lists userfaultfd features when userfaultfd can be opened', () => {
    const uffd = features.userfaultfd;
    if (uffd.available) {
      expect(uffd.api).toBe(0xaan);
      expect(uffd.features.length).toBeGreaterThan(0);
      expect(uffd.featureBits).toBeGreaterThan(0n);
      // Write-protect of shared memory is what the physical trap backend needs.
      if (uffd.featureBits & (1n << 12n)) expect(uffd.features).toContain('WP_HUGETLBFS_SHMEM');
      expect(uffd.error).toBeNull();
    } else {
      expect(uffd.error).not.toBeNull();
      expect(uffd.features).toEqual([]);
    }
    if (existsSync('/dev/userfaultfd') && process.getuid?.() === 0) expect(uffd.available).toBe(true);
  });

  it('is probed once', () => {
    expect(probeFeatures()).toBe(features);
  });
});
