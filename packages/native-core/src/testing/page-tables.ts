/**
 * Builds x86-64 page tables inside a RAM image, for tests of the page walker: the same structures a
 * guest kernel writes, at chosen physical addresses.
 */
import { writeSync } from 'node:fs';

const PRESENT = 1n << 0n;
const WRITE = 1n << 1n;
const USER = 1n << 2n;
const PAGE_SIZE_BIT = 1n << 7n;
const NO_EXECUTE = 1n << 63n;

export const KIB4 = 4096;
export const MIB2 = 2 * 1024 * 1024;
export const GIB1 = 1024 * 1024 * 1024;

export interface MapFlags {
  readonly write?: boolean;
  readonly user?: boolean;
  readonly noExecute?: boolean;
}

export class PageTableBuilder {
  /** Physical page -> its 512 entries. */
  readonly tables = new Map<bigint, BigUint64Array>();
  readonly cr3: bigint;
  private next: bigint;

  constructor(
    readonly levels: 4 | 5,
    firstTable = 0x1000n,
  ) {
    this.next = firstTable;
    this.cr3 = this.allocate();
  }

  private allocate(): bigint {
    const phys = this.next;
    this.next += 0x1000n;
    this.tables.set(phys, new BigUint64Array(512));
    return phys;
  }

  private table(phys: bigint): BigUint64Array {
    const t = this.tables.get(phys);
    if (t === undefined) throw new Error(`no table at ${phys.toString(16)}`);
    return t;
  }

  /** Maps one page of `size` bytes at `va` to `phys` (both aligned to the size). */
  map(va: bigint, phys: bigint, size: number, flags: MapFlags = {}): void {
    const leafLevel = size === GIB1 ? 3 : size === MIB2 ? 2 : 1;
    const bits = (flags.write === false ? 0n : WRITE) | (flags.user ? USER : 0n) | PRESENT;
    let table = this.cr3;
    for (let level = this.levels; level > leafLevel; level--) {
      const index = Number((va >> BigInt(12 + 9 * (level - 1))) & 0x1ffn);
      const entries = this.table(table);
      let entry = entries[index] ?? 0n;
      if ((entry & PRESENT) === 0n) {
        entry = this.allocate() | PRESENT | WRITE | USER;
        entries[index] = entry;
      }
      table = entry & 0x000ffffffffff000n;
    }
    const index = Number((va >> BigInt(12 + 9 * (leafLevel - 1))) & 0x1ffn);
    const leaf = phys | bits | (leafLevel > 1 ? PAGE_SIZE_BIT : 0n) | (flags.noExecute ? NO_EXECUTE : 0n);
    this.table(table)[index] = leaf;
  }

  /** Sets a raw entry (for malformed tables): the table that translates `va` at `level`. */
  setEntry(tablePhys: bigint, index: number, value: bigint): void {
    this.table(tablePhys)[index] = value;
  }

  /** Writes every table into a RAM file (file offset = physical address). */
  writeTo(fd: number): void {
    for (const [phys, entries] of this.tables) {
      writeSync(fd, new Uint8Array(entries.buffer, entries.byteOffset, entries.byteLength), 0, 4096, Number(phys));
    }
  }
}

/** A small deterministic PRNG (mulberry32) so randomized tests can be replayed from their seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
