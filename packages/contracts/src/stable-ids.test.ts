import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { idAt, idTime } from './ids.js';

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
