import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isVmiError } from '@vmi/contracts';
import { afterAll, describe, expect, it } from 'vitest';
import { GuestMemory } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'vmi-guest-memory-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

async function codeOf(fn: () => unknown): Promise<string> {
  try {
    await fn();
  } catch (error) {
    if (isVmiError(error)) return error.code;
    throw error;
  }
  return 'no error';
}

describe('guest memory', () => {
  const content = randomBytes(64 * 1024);

  it('reads physical memory with offset = physical by default', async () => {
    const memory = GuestMemory.open(file('plain.ram', content));
    try {
      expect(memory.fileSize).toBe(BigInt(content.length));
      expect(memory.layout).toEqual([{ guestPhys: 0n, fileOffset: 0n, length: BigInt(content.length) }]);
      expect(memory.readPhysSync(0x1234n, 100)).toEqual(content.subarray(0x1234, 0x1234 + 100));
      expect(await memory.readPhys(0n, content.length)).toEqual(content);
    } finally {
      memory.close();
    }
  });

  it('gives typed errors for out-of-range reads and bad arguments', async () => {
    const memory = GuestMemory.open(file('bounds.ram', content));
    try {
      expect(await codeOf(() => memory.readPhysSync(BigInt(content.length), 1))).toBe('VMI_ERR_NATIVE_OUT_OF_RANGE');
      expect(await codeOf(() => memory.readPhysSync(BigInt(content.length - 4), 8))).toBe('VMI_ERR_NATIVE_OUT_OF_RANGE');
      expect(await codeOf(() => memory.readPhys((1n << 64n) - 2n, 8))).toBe('VMI_ERR_NATIVE_OUT_OF_RANGE');
      expect(await codeOf(() => memory.readPhysSync(-1n, 1))).toBe('VMI_ERR_NATIVE_BAD_ARGUMENT');
      expect(await codeOf(() => memory.readPhysSync(0n, 1.5))).toBe('VMI_ERR_NATIVE_BAD_ARGUMENT');
      expect(await codeOf(() => memory.readPhysSync(0n, 2 << 20))).toBe('VMI_ERR_NATIVE_BAD_ARGUMENT');
      expect(await codeOf(() => memory.readPhysSync(0 as unknown as bigint, 1))).toBe('VMI_ERR_NATIVE_BAD_ARGUMENT');
      expect(await codeOf(() => memory.writePhys(0n, Buffer.from('x')))).toBe('VMI_ERR_NATIVE_READ_ONLY');
    } finally {
      memory.close();
    }
    expect(await codeOf(() => GuestMemory.open(join(dir, 'missing.ram')))).toBe('VMI_ERR_NATIVE_OPEN_FAILED');
    expect(await codeOf(() => GuestMemory.open(file('empty.ram', Buffer.alloc(0))))).toBe('VMI_ERR_NATIVE_OPEN_FAILED');
  });

  it('maps guest-physical addresses through a layout with holes', async () => {
    // Guest RAM split like a large q35 guest: low RAM, a hole, then RAM above 4 GiB.
    const path = file('layout.ram', content);
    const memory = GuestMemory.open(path, {
      layout: [
        { guestPhys: 0x1_0000_0000n, fileOffset: 0x8000n, length: 0x8000n },
        { guestPhys: 0n, fileOffset: 0n, length: 0x8000n },
      ],
    });
    try {
      expect(memory.layout.map((r) => r.guestPhys)).toEqual([0n, 0x1_0000_0000n]);
      expect(memory.readPhysSync(0x1_0000_0010n, 16)).toEqual(content.subarray(0x8010, 0x8020));
      expect(memory.readPhysSync(0x7ff0n, 16)).toEqual(content.subarray(0x7ff0, 0x8000));
      // The hole between the regions is not guest RAM, even though the file has bytes there.
      expect(await codeOf(() => memory.readPhysSync(0x7ff0n, 32))).toBe('VMI_ERR_NATIVE_OUT_OF_RANGE');
      expect(await codeOf(() => memory.readPhysSync(0x9000n, 1))).toBe('VMI_ERR_NATIVE_OUT_OF_RANGE');
    } finally {
      memory.close();
    }
    const past = [{ guestPhys: 0n, fileOffset: 0x8000n, length: 0x10000n }];
    expect(await codeOf(() => GuestMemory.open(path, { layout: past }))).toBe('VMI_ERR_NATIVE_BAD_ARGUMENT');
    const overlapping = [
      { guestPhys: 0n, fileOffset: 0n, length: 0x2000n },
      { guestPhys: 0x1000n, fileOffset: 0x4000n, length: 0x1000n },
    ];
    expect(await codeOf(() => GuestMemory.open(path, { layout: overlapping }))).toBe('VMI_ERR_NATIVE_BAD_ARGUMENT');
  });

  it('writes only when opened writable, and the write reaches the file', async () => {
    const path = file('writable.ram', Buffer.alloc(8192));
    const writer = GuestMemory.open(path, { writable: true });
    const reader = GuestMemory.open(path);
    try {
      writer.writePhys(0x1ffcn, Buffer.from('abcd'));
      expect(reader.readPhysSync(0x1ffen, 2).toString()).toBe('cd');
      expect(await codeOf(() => writer.writePhys(0x1fffn, Buffer.from('abcd')))).toBe('VMI_ERR_NATIVE_OUT_OF_RANGE');
    } finally {
      writer.close();
      reader.close();
    }
  });

  it('fails cleanly after close, while a read already running completes', async () => {
    const memory = GuestMemory.open(file('close.ram', content));
    const inFlight = memory.readPhys(0n, content.length);
    memory.close();
    memory.close();
    expect(await inFlight).toEqual(content);
    expect(await codeOf(() => memory.readPhysSync(0n, 1))).toBe('VMI_ERR_NATIVE_CLOSED');
    expect(await codeOf(() => memory.hashPhys({ phys: 0n, length: 1 }))).toBe('VMI_ERR_NATIVE_CLOSED');
  });

  it('reports a truncated file instead of dying of SIGBUS', async () => {
    const path = file('truncated.ram', Buffer.alloc(1 << 20, 7));
    const memory = GuestMemory.open(path);
    try {
      truncateSync(path, 4096);
      expect(memory.readPhysSync(0n, 16)).toEqual(Buffer.alloc(16, 7));
      expect(await codeOf(() => memory.readPhysSync(0x80000n, 16))).toBe('VMI_ERR_NATIVE_FILE_TRUNCATED');
      expect(await codeOf(() => memory.hashPhys({ phys: 0n, length: 1 << 20 }))).toBe('VMI_ERR_NATIVE_FILE_TRUNCATED');
    } finally {
      memory.close();
    }
  });

  it('survives a file that shrinks and grows under concurrent reads', async () => {
    // Another process flips the size between checks and reads, so some reads fault mid-copy: each
    // one must end in data or FILE_TRUNCATED, never a dead process.
    const size = 4 << 20;
    const path = file('flapping.ram', Buffer.alloc(size, 1));
    const memory = GuestMemory.open(path);
    const script = [
      "const fs = require('fs');",
      "process.stdout.write('ready\\n');",
      `for (;;) { fs.truncateSync(${JSON.stringify(path)}, 4096); fs.truncateSync(${JSON.stringify(path)}, ${size}); }`,
    ].join('\n');
    const flapper = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'] });
    const seen = new Map<string, number>();
    try {
      if (flapper.stdout === null) throw new Error('flapper has no stdout');
      await once(flapper.stdout, 'data');
      // At least 1.5 s, and on until a read met the shrunken file (bounded: a loaded machine is slow).
      const start = Date.now();
      const truncatedYet = () => seen.has('VMI_ERR_NATIVE_FILE_TRUNCATED');
      while (Date.now() - start < 1500 || (!truncatedYet() && Date.now() - start < 20_000)) {
        const code = await codeOf(() => memory.readPhys(0n, size));
        seen.set(code, (seen.get(code) ?? 0) + 1);
      }
    } finally {
      flapper.kill('SIGKILL');
      memory.close();
    }
    expect([...seen.keys()].every((c) => c === 'no error' || c === 'VMI_ERR_NATIVE_FILE_TRUNCATED')).toBe(true);
    expect(seen.get('VMI_ERR_NATIVE_FILE_TRUNCATED') ?? 0).toBeGreaterThan(0);
  });
});
