import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { idAt, idTime, newId } from './ids.js';

const seed = (text: string) => createHash('sha256').update(text).digest();

describe('idAt', () => {
  it('gives the same UUIDv7 for the same time and seed, dated at that time', () => {
    const ms = Date.UTC(2026, 10, 27, 12, 0, 0, 123);
    const id = idAt(ms, seed('stream\nconsumer\n42'));
    expect(idAt(ms, seed('stream\nconsumer\n42'))).toBe(id);
    expect(idTime(id)).toBe(ms);
  });

  it('gives another id when the seed or the time differs', () => {
    const ms = Date.UTC(2026, 10, 27);
    const id = idAt(ms, seed('a'));
    expect(idAt(ms, seed('b'))).not.toBe(id);
    expect(idAt(ms + 1, seed('a'))).not.toBe(id);
  });
});

describe('newId', () => {
  it('gives distinct UUIDv7s dated now that sort in the order they were made', () => {
    const before = Date.now();
    const ids = Array.from({ length: 5000 }, () => newId());
    const after = Date.now();
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    for (const id of [ids[0], ids.at(-1)] as string[]) {
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      const t = idTime(id) as number;
      expect(t).toBeGreaterThanOrEqual(before);
      expect(t).toBeLessThanOrEqual(after + 1);
    }
  });
});
