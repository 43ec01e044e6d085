import { describe, expect, it } from 'vitest';
import { JsonLineDecoder } from './json-lines.js';

describe('JsonLineDecoder', () => {
  it('joins documents split across chunks and splits documents sharing a chunk', () => {
    const decoder = new JsonLineDecoder();
    expect(decoder.push(Buffer.from('{"a":'))).toEqual([]);
    expect(decoder.push(Buffer.from('1}\n{"b":2}\r\n{"c"'))).toEqual([
      { ok: true, value: { a: 1 } },
      { ok: true, value: { b: 2 } },
    ]);
    expect(decoder.push(Buffer.from(':3}\n'))).toEqual([{ ok: true, value: { c: 3 } }]);
  });

  it('reports garbage lines and keeps decoding what follows', () => {
    const decoder = new JsonLineDecoder();
    const out = decoder.push(Buffer.from('not json\n\n\u0000\u00ff{"x":\n{"ok":true}\n'));
    expect(out.map((line) => line.ok)).toEqual([false, false, true]);
    expect(out[2]).toEqual({ ok: true, value: { ok: true } });
  });

  it('drops an oversized line once and recovers at the next newline', () => {
    const decoder = new JsonLineDecoder(16);
    const first = decoder.push(Buffer.from('{"long":"aaaaaaaaaaaaaaaaaaaaaaaa'));
    expect(first).toHaveLength(1);
    expect(first[0]?.ok).toBe(false);
    expect(decoder.push(Buffer.from('bbbbbbbbbbbbbbbbbbbbb"}'))).toEqual([]);
    expect(decoder.push(Buffer.from('\n{"n":1}\n'))).toEqual([{ ok: true, value: { n: 1 } }]);
  });

  it('never throws on random bytes', () => {
    const decoder = new JsonLineDecoder(4096);
    let seed = 12345;
    const next = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    for (let round = 0; round < 500; round++) {
      const chunk = Buffer.alloc(1 + (next() % 300));
      for (let i = 0; i < chunk.length; i++) chunk[i] = next() % 7 === 0 ? 0x0a : next() & 0xff;
      expect(() => decoder.push(chunk)).not.toThrow();
    }
    expect(decoder.push(Buffer.from('\n{"end":1}\n')).at(-1)).toEqual({ ok: true, value: { end: 1 } });
  });
});
