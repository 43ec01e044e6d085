import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GuestMemory, sha256 } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'vmi-hash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const reference = (...parts: Buffer[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

describe('sha256', () => {
  it('matches node:crypto for small, boundary and large inputs', async () => {
    for (const size of [0, 1, 55, 56, 64, 64 * 1024, 64 * 1024 + 1, 3 * 1024 * 1024 + 7]) {
      const data = randomBytes(size);
      expect(await sha256(data), `size ${size}`).toEqual(reference(data));
    }
    const view = new Uint8Array(randomBytes(1000).buffer, 10, 500);
    expect(await sha256(view)).toEqual(reference(Buffer.from(view)));
  });

  it('hashes guest-physical ranges straight from the mapping', async () => {
    const ram = randomBytes(2 * 1024 * 1024);
    const path = join(dir, 'hash.ram');
    writeFileSync(path, ram);
    const memory = GuestMemory.open(path);
    try {
      expect(await memory.hashPhys({ phys: 0n, length: ram.length })).toEqual(reference(ram));
      const ranges = [
        { phys: 0x1000n, length: 100 },
        { phys: 0x100000n, length: 0x20000 },
      ];
      expect(await memory.hashPhys(ranges)).toEqual(reference(ram.subarray(0x1000, 0x1000 + 100), ram.subarray(0x100000, 0x120000)));
      await expect(memory.hashPhys({ phys: BigInt(ram.length - 1), length: 2 })).rejects.toMatchObject({
        code: 'VMI_ERR_NATIVE_OUT_OF_RANGE',
      });
      await expect(memory.hashPhys([])).rejects.toMatchObject({ code: 'VMI_ERR_NATIVE_BAD_ARGUMENT' });
    } finally {
      memory.close();
    }
  });
});
