import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GuestErrors, VmiError } from '@vmi/contracts';
import { afterAll, describe, expect, it } from 'vitest';
import { waitForConsoleReady } from './console-ready.js';

const dir = mkdtempSync(join(tmpdir(), 'console-ready-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("waiting for a booted guest's console", () => {
  it('finds a ready line printed before anyone connected', async () => {
    const log = join(dir, 'early.log');
    writeFileSync(log, 'Linux version 6.1\n@@VMI-READY:6.1.0-test@@\n');
    expect(await waitForConsoleReady(log, 1000)).toBe('6.1.0-test');
  });

  it('waits through the boot, before the log even exists, for the ready line', async () => {
    const log = join(dir, 'late.log');
    const ready = waitForConsoleReady(log, 10_000);
    setTimeout(() => writeFileSync(log, 'booting\n'), 150);
    setTimeout(() => appendFileSync(log, '@@VMI-READY:6.1.0-late@@\n'), 400);
    expect(await ready).toBe('6.1.0-late');
  });

  it('gives up with a boot timeout when the guest never gets there', async () => {
    const log = join(dir, 'stuck.log');
    writeFileSync(log, 'Kernel panic - not syncing\n');
    const err = await waitForConsoleReady(log, 300).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VmiError);
    expect((err as VmiError).code).toBe(GuestErrors.BOOT_TIMEOUT.code);
  });
});
