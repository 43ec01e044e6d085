import { describe, expect, it } from 'vitest';
import { canonicalJson } from './canonical-json.js';
import { type ChainedContent, canonicalEnvelope } from './row-hash.js';

/** The definition, written the plain way: sorted keys at every level, JSON.stringify for the rest. */
function reference(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(reference).join(',')}]`;
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  const record = value as Record<string, unknown>;
  return `{${Object.keys(record)
    .sort()
    .filter((k) => record[k] !== undefined && typeof record[k] !== 'function')
    .map((k) => `${JSON.stringify(k)}:${reference(record[k])}`)
    .join(',')}}`;
}

/** A deterministic generator of awkward values: odd keys, deep nesting, every JSON type. */
function generator(seed: number) {
  let state = seed;
  const rand = (n: number) => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state % n;
  };
  const KEYS = ['a', 'B', 'b', '10', '9', '', 'é', 'z\u0000', '\ud83d\ude00', '__proto__x', 'constructor', 'aa', 'a-b', '"q"', '\\'];
  const value = (depth: number): unknown => {
    switch (rand(depth > 3 ? 5 : 8)) {
      case 0:
        return null;
      case 1:
        return rand(2) === 0;
      case 2:
        return rand(1000) - 500 + rand(10) / 8;
      case 3:
        return KEYS[rand(KEYS.length)];
      case 4:
        return undefined;
      case 5:
        return Array.from({ length: rand(5) }, () => value(depth + 1));
      default: {
        const out: Record<string, unknown> = {};
        const n = rand(depth === 0 ? 40 : 8);
        for (let i = 0; i < n; i++) out[KEYS[rand(KEYS.length)] + (rand(3) === 0 ? String(rand(50)) : '')] = value(depth + 1);
        return out;
      }
    }
  };
  return () => value(0);
}

describe('canonical JSON', () => {
  it('equals the sorted-keys definition for thousands of awkward values', () => {
    const next = generator(7);
    for (let i = 0; i < 5000; i++) {
      const v = next();
      expect(canonicalJson(v)).toBe(reference(v));
    }
  });

  it('gives the same text whatever order the keys came in, also for objects with many keys', () => {
    const keys = Array.from({ length: 60 }, (_, i) => `k${(i * 37) % 60}`);
    const forward = Object.fromEntries(keys.map((k) => [k, { y: 1, x: [k] }]));
    const backward = Object.fromEntries([...keys].reverse().map((k) => [k, { x: [k], y: 1 }]));
    expect(canonicalJson(forward)).toBe(canonicalJson(backward));
    expect(canonicalJson(forward)).toBe(reference(forward));
    expect(canonicalJson({ d: new Date(0), f: () => 1, u: undefined, a: [undefined] })).toBe('{"a":[null],"d":"1970-01-01T00:00:00.000Z"}');
  });

  it('writes the envelope as canonicalJson writes that object', () => {
    const rows: ChainedContent[] = [
      {
        id: 'x',
        stream: 'traps',
        subject: 'vmi.trap.h.g',
        type: 'trap',
        host: 'h"1',
        guest: null,
        time: new Date(5),
        severity: null,
        rule: 'r\\',
      },
      { id: 'y', stream: 's', subject: 'é', type: 't', host: null, guest: 'g\u2028', time: new Date(0), severity: 'high', rule: null },
    ];
    for (const row of rows) {
      const { body: _body, time, ...rest } = { ...row, body: null };
      expect(canonicalEnvelope(row)).toBe(canonicalJson({ ...rest, time: time.toISOString() }));
    }
  });
});
