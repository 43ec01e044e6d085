import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GuestMemory } from './index.js';
import { native } from './native.js';

const dir = mkdtempSync(join(tmpdir(), 'vmi-diff-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Flips bits of one byte in the file behind a read-only mapping, as the guest writes its RAM. */
function flip(path: string, original: Buffer, offset: number, mask = 1): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, Buffer.from([original.readUInt8(offset) ^ mask]), 0, 1, offset);
  } finally {
    closeSync(fd);
  }
}

const codeOf = async (fn: () => unknown) => {
  try {
    await fn();
    return 'none';
  } catch (err) {
    return (err as { code?: string }).code;
  }
};

describe('GuestMemory.diffPhys', () => {
  it('names exactly the ranges whose bytes left their expected value, first byte to last', async () => {
    const ram = randomBytes(1 << 20);
    const path = join(dir, 'diff.ram');
    writeFileSync(path, ram);
    const ranges = [
      { phys: 0x1000n, length: 8 },
      { phys: 0x2000n, length: 4096 },
      { phys: 0x10000n, length: 64 * 1024 },
      { phys: 0x30000n, length: 1 },
      { phys: 0x40000n, length: 300 },
    ];
    const expected = ranges.map((r) => Buffer.from(ram.subarray(Number(r.phys), Number(r.phys) + r.length)));
    const memory = GuestMemory.open(path);
    try {
      expect(await memory.diffPhys(ranges, expected)).toEqual([]);
      flip(path, ram, 0x2000);
      flip(path, ram, 0x10000 + 64 * 1024 - 1, 0x80);
      flip(path, ram, 0x40100, 0xff);
      // Outside every range: no difference to report.
      flip(path, ram, 0x3000);
      expect(await memory.diffPhys(ranges, expected)).toEqual([1, 2, 4]);
    } finally {
      memory.close();
    }
  });

  it('follows a range across the regions of a layout', async () => {
    // Two 64 KiB regions of guest RAM, stored in the file in the opposite order.
    const file = randomBytes(128 * 1024);
    const path = join(dir, 'layout.ram');
    writeFileSync(path, file);
    const layout = [
      { guestPhys: 0n, fileOffset: 0x10000n, length: 0x10000n },
      { guestPhys: 0x10000n, fileOffset: 0n, length: 0x10000n },
    ];
    const across = { phys: 0xff00n, length: 0x200 };
    const expected = [Buffer.concat([file.subarray(0x1ff00, 0x20000), file.subarray(0, 0x100)])];
    const memory = GuestMemory.open(path, { layout });
    try {
      expect(await memory.diffPhys([across], expected)).toEqual([]);
      flip(path, file, 0x80);
      expect(await memory.diffPhys([across], expected)).toEqual([0]);
    } finally {
      memory.close();
    }
  });

  it('refuses expected bytes that do not match the ranges, ranges outside RAM, a closed memory and a shrunk file', async () => {
    const path = join(dir, 'bad.ram');
    writeFileSync(path, Buffer.alloc(1 << 20, 3));
    const memory = GuestMemory.open(path);
    const range = { phys: 0n, length: 16 };
    const bad = (ranges: { phys: bigint; length: number }[], expected: unknown) =>
      codeOf(() => memory.diffPhys(ranges, expected as Buffer[]));
    expect(await bad([range], [Buffer.alloc(15, 3)])).toBe('VMI_ERR_NATIVE_BAD_ARGUMENT');
    expect(await bad([range], [Buffer.alloc(16, 3), Buffer.alloc(16, 3)])).toBe('VMI_ERR_NATIVE_BAD_ARGUMENT');
    expect(await bad([range], Buffer.alloc(16, 3))).toBe('VMI_ERR_NATIVE_BAD_ARGUMENT');
    expect(await bad([range], ['not bytes'])).toBe('VMI_ERR_NATIVE_BAD_ARGUMENT');
    expect(await bad([], [])).toBe('VMI_ERR_NATIVE_BAD_ARGUMENT');
    // The core checks the lengths again itself: a buffer shorter than its range is never read past.
    expect(await codeOf(() => native().memoryDiffPhys(memory.nativeHandle(), [range], [Buffer.alloc(8)]))).toBe(
      'VMI_ERR_NATIVE_BAD_ARGUMENT',
    );
    expect(await bad([{ phys: BigInt((1 << 20) - 8), length: 16 }], [Buffer.alloc(16)])).toBe('VMI_ERR_NATIVE_OUT_OF_RANGE');
    truncateSync(path, 4096);
    expect(await bad([{ phys: 0x80000n, length: 16 }], [Buffer.alloc(16, 3)])).toBe('VMI_ERR_NATIVE_FILE_TRUNCATED');
    memory.close();
    expect(await bad([range], [Buffer.alloc(16, 3)])).toBe('VMI_ERR_NATIVE_CLOSED');
  });
});
