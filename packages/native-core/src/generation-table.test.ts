import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GenerationTable, generationTablePath } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'vmi-generation-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('write-generation table', () => {
  it('lays the table out as the shared contract says', () => {
    const path = join(dir, 'layout');
    const writer = GenerationTable.create(path, { slots: 4 });
    try {
      writer.setSlot(1, 0x1000n, 0x2000n);
      const raw = readFileSync(path);
      expect(raw.length).toBe(64 + 4 * 32);
      expect(raw.subarray(0, 8).toString('latin1')).toBe('VMIGEN01');
      expect(raw.readUInt32LE(8)).toBe(1);
      expect(raw.readUInt32LE(12)).toBe(4);
      expect(raw.readBigUInt64LE(16)).toBe(1n);
      const slot1 = 64 + 32;
      expect(raw.readBigUInt64LE(slot1)).toBe(0x1000n);
      expect(raw.readBigUInt64LE(slot1 + 8)).toBe(0x2000n);
      // Reconfiguring a slot bumps its generation (twice: disable, then enable).
      expect(raw.readBigUInt64LE(slot1 + 16)).toBe(2n);
    } finally {
      writer.close();
    }
  });

  it('bumps exactly the slots a write overlaps, and always the global generation', () => {
    const path = join(dir, 'bumps');
    const writer = GenerationTable.create(path, { slots: 3 });
    const reader = GenerationTable.open(path);
    try {
      writer.setSlot(0, 0x1000n, 0x2000n);
      writer.setSlot(2, 0x5000n, 0x1000n);
      const gens = () => Object.fromEntries(reader.read().slots.map((s) => [s.index, s.gen]));
      const start = reader.read().globalGen;
      expect(gens()).toEqual({ 0: 2n, 2: 2n });
      expect(writer.recordWrite(0x2ff8n, 8n)).toBe(1); // last bytes of slot 0
      expect(writer.recordWrite(0x3000n, 8n)).toBe(0); // first byte after it
      expect(writer.recordWrite(0x0ff8n, 0x4010n)).toBe(2); // spans both
      expect(gens()).toEqual({ 0: 4n, 2: 3n });
      expect(reader.read().globalGen).toBe(start + 3n);
      expect(reader.read().slotCount).toBe(3);
      expect(() => reader.recordWrite(0n, 1n)).toThrow(expect.objectContaining({ code: 'VMI_ERR_NATIVE_READ_ONLY' }));
      expect(() => writer.setSlot(3, 0n, 1n)).toThrow(expect.objectContaining({ code: 'VMI_ERR_NATIVE_OUT_OF_RANGE' }));
    } finally {
      writer.close();
      reader.close();
    }
    expect(() => reader.read()).toThrow(expect.objectContaining({ code: 'VMI_ERR_NATIVE_CLOSED' }));
  });

  it('refuses files that are not a table', () => {
    const garbage = join(dir, 'garbage');
    writeFileSync(garbage, Buffer.alloc(256, 0x41));
    expect(() => GenerationTable.open(garbage)).toThrow(expect.objectContaining({ code: 'VMI_ERR_NATIVE_BAD_GENERATION_TABLE' }));
    const short = join(dir, 'short');
    GenerationTable.create(short, { slots: 8 }).close();
    truncateSync(short, 64 + 32);
    expect(() => GenerationTable.open(short)).toThrow(expect.objectContaining({ code: 'VMI_ERR_NATIVE_BAD_GENERATION_TABLE' }));
    expect(() => GenerationTable.open(join(dir, 'absent'))).toThrow(expect.objectContaining({ code: 'VMI_ERR_NATIVE_OPEN_FAILED' }));
  });

  it('names tables in shared memory after the guest', () => {
    expect(generationTablePath('guest-1')).toBe('/dev/shm/vmi-gen-guest-1');
    expect(() => generationTablePath('../etc')).toThrow(expect.objectContaining({ code: 'VMI_ERR_NATIVE_BAD_ARGUMENT' }));
  });
});
