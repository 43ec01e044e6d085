import { describe, expect, it } from 'vitest';
import { Coalescer, type WindowSummary } from './coalescer.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('storm coalescing per region', () => {
  it('publishes the first burst, counts the rest, and summaries add up to every trap', async () => {
    const summaries: WindowSummary<string>[] = [];
    const c = new Coalescer<string>({ burst: 5, windowMs: 40, onSummary: (s) => summaries.push(s) });
    let individual = 0;
    const total = 1000;
    for (let i = 0; i < total; i++) {
      if (c.admit('syscall[1]', 'region', `t${i}`)) individual++;
      if (i % 100 === 99) await sleep(15);
    }
    await sleep(120);
    expect(summaries.reduce((n, s) => n + s.count, 0)).toBe(total);
    expect(summaries.reduce((n, s) => n + s.suppressed, 0)).toBe(total - individual);
    expect(individual).toBeLessThan(total);
    expect(summaries.every((s) => s.firstSeen.getTime() <= s.lastSeen.getTime())).toBe(true);
    expect(summaries.at(-1)?.lastTrapId).toBe(`t${total - 1}`);
  });

  it('keeps regions apart and stays quiet for traps that never exceed the burst', async () => {
    const summaries: WindowSummary<string>[] = [];
    const c = new Coalescer<string>({ burst: 3, windowMs: 20, onSummary: (s) => summaries.push(s) });
    expect(c.admit('a', 'a', 'a1')).toBe(true);
    expect(c.admit('b', 'b', 'b1')).toBe(true);
    expect(c.admit('a', 'a', 'a2')).toBe(true);
    await sleep(60);
    expect(summaries).toEqual([]);
    for (let i = 0; i < 10; i++) c.admit('b', 'b', `b${i + 2}`);
    c.flush();
    expect(summaries).toHaveLength(1);
    expect(summaries[0]).toMatchObject({ key: 'b', count: 10, suppressed: 7 });
    expect(c.openWindows).toBe(0);
  });
});
