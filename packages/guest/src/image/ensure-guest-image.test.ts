import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GuestErrors, isVmiError } from '@vmi/contracts';
import { describe, expect, it } from 'vitest';
import { guestProfileValidator } from '../profile/guest-profile.js';
import { withBuildLock } from './build-lock.js';
import { ensureGuestImage } from './ensure-guest-image.js';
import { parseKallsyms } from './record-profile.js';

describe('ensureGuestImage', () => {
  it('builds (or finds) the image, and a second call returns the same cached image', async () => {
    const first = await ensureGuestImage();
    for (const path of [first.kernelPath, first.initrdPath, first.profilePath, first.modulePath]) expect(existsSync(path)).toBe(true);
    expect(first.dir.endsWith(first.hash)).toBe(true);
    expect(guestProfileValidator.check(first.profile)).toBe(true);
    expect(first.profile.kernelVersion).toBe(first.kernelVersion);
    const text = BigInt(first.profile.stext);
    expect(BigInt(first.profile.etext)).toBeGreaterThan(text);
    expect(BigInt(first.profile.symbols.start_kernel ?? '0')).toBeGreaterThan(text);
    expect(first.profile.modules.vmi_attack?.vmi_attack_fake_syscall).toMatch(/^0xffffffffc/);

    const second = await ensureGuestImage();
    expect(second.hash).toBe(first.hash);
    expect(second.dir).toBe(first.dir);
    // A first run builds the image: a minute or more on a busy machine.
  }, 600_000);
});

describe('withBuildLock', () => {
  it('runs the build once for concurrent callers and hands the others its result', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmi-guest-lock-'));
    try {
      let builds = 0;
      let result: string | undefined;
      const build = async (): Promise<string> => {
        builds++;
        await new Promise((resolve) => setTimeout(resolve, 300));
        result = 'built';
        return result;
      };
      const existing = async (): Promise<string | undefined> => result;
      const outcomes = await Promise.all([0, 1, 2].map(() => withBuildLock(join(dir, 'x.lock'), existing, build)));
      expect(outcomes).toEqual(['built', 'built', 'built']);
      expect(builds).toBe(1);
      expect(existsSync(join(dir, 'x.lock'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('parseKallsyms', () => {
  const required = [
    'sys_call_table',
    'idt_table',
    '_stext',
    '_etext',
    'modprobe_path',
    'core_pattern',
    'linux_banner',
    'page_offset_base',
    'phys_base',
  ];
  const lines = required.map((name, i) => `ffffffff8100${i.toString(16).padStart(4, '0')} D ${name}`);

  it('keeps the first of duplicate names, splits module symbols and skips junk lines', () => {
    const parsed = parseKallsyms(
      [...lines, 'ffffffff81000010 t dup', 'ffffffff81000020 t dup', 'garbage line', 'ffffffffc0001000 t fn\t[mod]', ''].join('\n'),
    );
    expect(parsed.symbols.dup).toBe('0xffffffff81000010');
    expect(parsed.symbols.sys_call_table).toBe('0xffffffff81000000');
    expect(parsed.modules).toEqual({ mod: { fn: '0xffffffffc0001000' } });
  });

  it('refuses a dump without addresses or without a required symbol', () => {
    const zeroed = lines.map((line) => line.replace(/^[0-9a-f]{16}/, '0000000000000000')).join('\n');
    expect(() => parseKallsyms(zeroed)).toThrow(expect.objectContaining({ code: GuestErrors.IMAGE_BUILD.code }));
    const error = (() => {
      try {
        parseKallsyms(lines.slice(1).join('\n'));
      } catch (e) {
        return e;
      }
    })();
    expect(isVmiError(error, GuestErrors.IMAGE_BUILD.code)).toBe(true);
  });
});
