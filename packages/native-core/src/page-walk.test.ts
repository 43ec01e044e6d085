import { closeSync, mkdtempSync, openSync, rmSync, truncateSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isVmiError } from '@vmi/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GuestMemory } from './index.js';
import { GIB1, KIB4, MIB2, PageTableBuilder, prng } from './testing/page-tables.js';

const dir = mkdtempSync(join(tmpdir(), 'vmi-page-walk-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (isVmiError(error)) return error.code;
    throw error;
  }
  return 'no error';
}

/** A sparse RAM file with the builder's tables and the given data written at physical addresses. */
function ramFile(name: string, size: number, builder: PageTableBuilder, data: [bigint, Buffer][] = []): string {
  const path = join(dir, name);
  closeSync(openSync(path, 'w'));
  truncateSync(path, size);
  const fd = openSync(path, 'r+');
  builder.writeTo(fd);
  for (const [phys, bytes] of data) writeSync(fd, bytes, 0, bytes.length, Number(phys));
  closeSync(fd);
  return path;
}

describe('4-level page walks', () => {
  const b = new PageTableBuilder(4);
  const userVa = 0x00007f1234567000n;
  const nextVa = userVa + 0x1000n;
  const directVa = 0xffff888000200000n;
  const gigVa = 0xffff888040000000n;
  b.map(userVa, 0x300000n, KIB4, { user: true, noExecute: true });
  // The next virtual page lives at an unrelated physical page: reads must follow the tables.
  b.map(nextVa, 0x305000n, KIB4, { user: true, write: false });
  b.map(directVa, 0x400000n, MIB2);
  b.map(gigVa, 0x40000000n, GIB1);
  let memory: GuestMemory;

  beforeAll(() => {
    const path = ramFile('four.ram', GIB1 + 8 * MIB2, b, [
      [0x300ff8n, Buffer.from('tail-of-A')],
      [0x305000n, Buffer.from('B-head')],
      [0x412345n, Buffer.from('two-meg')],
      [0x40001234n, Buffer.from('one-gig')],
    ]);
    memory = GuestMemory.open(path);
  });
  afterAll(() => memory.close());

  it('translates 4 KiB, 2 MiB and 1 GiB pages with their flags', () => {
    expect(memory.translate(b.cr3, userVa + 0x123n)).toEqual({
      phys: 0x300123n,
      pageSize: KIB4,
      writable: true,
      user: true,
      noExecute: true,
    });
    expect(memory.translate(b.cr3, nextVa)).toMatchObject({ phys: 0x305000n, writable: false, user: true, noExecute: false });
    expect(memory.translate(b.cr3, directVa + 0x12345n)).toMatchObject({ phys: 0x412345n, pageSize: MIB2, user: false });
    expect(memory.translate(b.cr3, gigVa + 0x1234n)).toMatchObject({ phys: 0x40001234n, pageSize: GIB1 });
  });

  it('reads across a page boundary into a different physical page', async () => {
    const expected = Buffer.concat([Buffer.from('tail-of-'), Buffer.from('B-head')]);
    expect(memory.readVirtSync(b.cr3, userVa + 0xff8n, 14)).toEqual(expected);
    expect(await memory.readVirt(b.cr3, userVa + 0xff8n, 14)).toEqual(expected);
    expect(memory.readVirtSync(b.cr3, gigVa + 0x1234n, 7).toString()).toBe('one-gig');
    expect(memory.readVirtSync(b.cr3, directVa + 0x12345n, 7).toString()).toBe('two-meg');
  });

  it('ignores the PCID and flag bits of CR3', () => {
    expect(memory.translate(b.cr3 | 0x5n | (1n << 63n), userVa).phys).toBe(0x300000n);
  });

  it('reports unmapped and non-canonical addresses with typed errors', async () => {
    expect(codeOf(() => memory.translate(b.cr3, 0x00007f0000000000n))).toBe('VMI_ERR_NATIVE_UNMAPPED');
    expect(codeOf(() => memory.translate(b.cr3, 0x0000100000000000n))).toBe('VMI_ERR_NATIVE_UNMAPPED');
    expect(codeOf(() => memory.translate(b.cr3, 0x0000800000000000n))).toBe('VMI_ERR_NATIVE_NON_CANONICAL');
    // A read that runs off the end of the mapping into an unmapped page fails as a whole.
    await expect(memory.readVirt(b.cr3, nextVa + 0xff0n, 32)).rejects.toMatchObject({ code: 'VMI_ERR_NATIVE_UNMAPPED' });
    try {
      memory.translate(b.cr3, 0x0000100000000000n);
      expect.unreachable();
    } catch (error) {
      // Nothing is mapped in that PML4 slot: the walk stops at the top level.
      expect(error).toMatchObject({ details: { address: 0x0000100000000000n, level: 4n } });
      expect((error as Error).stack).toContain('page-walk.test.ts');
    }
  });
});

describe('5-level page walks', () => {
  const b = new PageTableBuilder(5);
  // Bits 48-56 in use: only reachable with LA57.
  const va = 0x00ff123456789000n;
  b.map(va, 0x200000n, KIB4);
  let memory: GuestMemory;
  beforeAll(() => {
    memory = GuestMemory.open(ramFile('five.ram', 4 * MIB2, b, [[0x200abcn, Buffer.from('la57')]]));
  });
  afterAll(() => memory.close());

  it('walks five levels and refuses the address under four', () => {
    expect(memory.translate(b.cr3, va + 0xabcn, { levels: 5 })).toMatchObject({ phys: 0x200abcn, pageSize: KIB4 });
    expect(memory.readVirtSync(b.cr3, va + 0xabcn, 4, { levels: 5 }).toString()).toBe('la57');
    expect(codeOf(() => memory.translate(b.cr3, va, { levels: 4 }))).toBe('VMI_ERR_NATIVE_NON_CANONICAL');
  });
});

describe('malformed page tables', () => {
  it('rejects tables outside guest RAM, misplaced page-size bits and reserved bits', () => {
    const b = new PageTableBuilder(4);
    const va = 0x00007f0000000000n;
    b.map(va, 0x100000n, KIB4);
    const pml4Index = Number((va >> 39n) & 0x1ffn);
    const memory = GuestMemory.open(ramFile('bad.ram', 2 * MIB2, b));
    try {
      b.setEntry(b.cr3, pml4Index, 0x7fff0000000n | 0x3n);
      const m2 = GuestMemory.open(ramFile('bad-outside.ram', 2 * MIB2, b));
      expect(codeOf(() => m2.translate(b.cr3, va))).toBe('VMI_ERR_NATIVE_BAD_PAGE_TABLE');
      m2.close();

      b.setEntry(b.cr3, pml4Index, 0x2000n | 0x83n);
      const m3 = GuestMemory.open(ramFile('bad-ps.ram', 2 * MIB2, b));
      expect(codeOf(() => m3.translate(b.cr3, va))).toBe('VMI_ERR_NATIVE_BAD_PAGE_TABLE');
      m3.close();

      // A 2 MiB entry with bits set between PAT and the page base.
      const c = new PageTableBuilder(4);
      c.map(0xffff888000000000n, 0x200000n, MIB2);
      const pd = [...c.tables.keys()].at(-1) ?? 0n;
      c.setEntry(pd, 0, 0x200000n | 0x10000n | 0x83n);
      const m4 = GuestMemory.open(ramFile('bad-reserved.ram', 2 * MIB2, c));
      expect(codeOf(() => m4.translate(c.cr3, 0xffff888000000000n))).toBe('VMI_ERR_NATIVE_BAD_PAGE_TABLE');
      m4.close();
    } finally {
      memory.close();
    }
  });

  it('terminates on self-referencing tables', () => {
    // Every PML4 entry points back at the PML4: a naive walker following "tables" could loop.
    const b = new PageTableBuilder(4);
    for (let i = 0; i < 512; i++) b.setEntry(b.cr3, i, b.cr3 | 0x7n);
    const memory = GuestMemory.open(ramFile('loop.ram', 2 * MIB2, b));
    try {
      const t = memory.translate(b.cr3, 0x0000123456789abcn);
      expect(t.phys & ~0xfffn).toBe(b.cr3);
      // A long read over the recursive mapping is bounded by its length, not by the tables.
      expect(memory.readVirtSync(b.cr3, 0x0000100000000000n, 256 * 1024).length).toBe(256 * 1024);
    } finally {
      memory.close();
    }
  });

  it('never crashes or hangs on random garbage: every walk ends in a translation inside RAM or a typed error', () => {
    const seed = 0x5eed_cafe;
    const random = prng(seed);
    const size = 4 * MIB2;
    const garbage = Buffer.alloc(size);
    for (let i = 0; i < size; i += 4) garbage.writeUInt32LE(Math.floor(random() * 2 ** 32), i);
    // Bias a share of the entries toward "present, pointing inside RAM" so walks get deep.
    for (let i = 0; i < size; i += 8) {
      if (random() < 0.5) {
        const target = BigInt(Math.floor(random() * (size / 4096))) * 4096n;
        const flags = BigInt(Math.floor(random() * 256)) | 1n;
        garbage.writeBigUInt64LE(target | flags | (random() < 0.1 ? 1n << 63n : 0n), i);
      }
    }
    const path = join(dir, 'garbage.ram');
    const fd = openSync(path, 'w');
    writeSync(fd, garbage);
    closeSync(fd);
    const memory = GuestMemory.open(path);
    const allowed = new Set([
      'VMI_ERR_NATIVE_UNMAPPED',
      'VMI_ERR_NATIVE_BAD_PAGE_TABLE',
      'VMI_ERR_NATIVE_NON_CANONICAL',
      'VMI_ERR_NATIVE_OUT_OF_RANGE',
    ]);
    const outcomes = new Map<string, number>();
    try {
      for (let i = 0; i < 10_000; i++) {
        // Mostly roots inside RAM and canonical addresses, so walks get past the first checks.
        const cr3 = random() < 0.9 ? BigInt(Math.floor(random() * size)) : BigInt(Math.floor(random() * 2 ** 32)) << 20n;
        const levels = random() < 0.5 ? 4 : 5;
        const raw = (BigInt(Math.floor(random() * 2 ** 32)) << 32n) | BigInt(Math.floor(random() * 2 ** 32));
        const bits = levels === 5 ? 57n : 48n;
        const va = random() < 0.9 ? BigInt.asUintN(64, BigInt.asIntN(Number(bits), raw)) : raw;
        const outcome = (fn: () => unknown): string => {
          try {
            fn();
            return 'ok';
          } catch (error) {
            const code = isVmiError(error) ? error.code : String(error);
            expect(allowed, `seed ${seed}, walk ${i}`).toContain(code);
            return code;
          }
        };
        const walk = outcome(() => expect(memory.translate(cr3, va, { levels }).phys).toBeLessThan(1n << 52n));
        outcomes.set(walk === 'ok' ? 'translated' : walk, (outcomes.get(walk === 'ok' ? 'translated' : walk) ?? 0) + 1);
        // The final page may lie outside RAM (OUT_OF_RANGE); a read that crosses pages walks again.
        if (walk === 'ok') outcome(() => expect(memory.readVirtSync(cr3, va, 8192, { levels }).length).toBe(8192));
      }
    } finally {
      memory.close();
    }
    // The garbage must have exercised deep walks, not just rejected everything at the first level.
    expect(outcomes.get('translated') ?? 0).toBeGreaterThan(30);
    expect(outcomes.get('VMI_ERR_NATIVE_BAD_PAGE_TABLE') ?? 0).toBeGreaterThan(100);
    expect(outcomes.get('VMI_ERR_NATIVE_UNMAPPED') ?? 0).toBeGreaterThan(100);
  });
});
