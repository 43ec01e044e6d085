import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SettleGroups } from './settle-groups.js';

// Timers and the clock are the test's: what is asserted is when a group reads, not how fast.
beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});
const sleep = (ms: number) => vi.advanceTimersByTimeAsync(ms);

describe('traps of one string write', () => {
  it('share one read, taken once no trap has come for the quiet period', async () => {
    const groups = new SettleGroups<number>(60, 5000);
    let reads = 0;
    const read = async () => ++reads;
    const first = groups.join('g|s', read);
    await sleep(30);
    const second = groups.join('g|s', read);
    await sleep(40);
    // 70 ms after the first trap but only 40 after the second: not read yet.
    expect(reads).toBe(0);
    await sleep(20);
    expect(await Promise.all([first, second])).toEqual([1, 1]);
    expect(reads).toBe(1);
    expect(groups.waiting).toBe(0);
  });

  it('are read at the latest the maximum time after the first, however long the writes go on', async () => {
    const groups = new SettleGroups<number>(50, 120);
    // Traps every 25 ms for 400 ms: never a quiet period, so only the maximum ends a group.
    let joined = 0;
    const readWhenJoined: number[] = [];
    const results: Promise<number>[] = [];
    for (let i = 0; i < 16; i++) {
      joined += 1;
      results.push(
        groups.join('g|s', async () => {
          readWhenJoined.push(joined);
          return readWhenJoined.length;
        }),
      );
      await sleep(25);
    }
    await sleep(200);
    const values = await Promise.all(results);
    // The first read came while the writes went on, and the later traps formed groups of their own.
    expect(readWhenJoined[0]).toBe(5); // 120 ms: after the fifth trap (at 100 ms), before the sixth

    expect(new Set(values).size).toBeGreaterThan(1);
    expect(values).toEqual([...values].sort((a, b) => a - b));
  });

  it('start a new group when a trap comes during the read, so no trap is judged on an earlier read', async () => {
    const groups = new SettleGroups<string>(10, 1000);
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const first = groups.join('g|s', async () => {
      await gate;
      return 'before';
    });
    await sleep(30); // the first group is reading now
    const later = groups.join('g|s', async () => 'after');
    release();
    expect(await first).toBe('before');
    await sleep(10);
    expect(await later).toBe('after');
  });

  it('keep objects apart', async () => {
    const groups = new SettleGroups<string>(10, 1000);
    const both = Promise.all([groups.join('g|a', async () => 'a'), groups.join('g|b', async () => 'b')]);
    await sleep(10);
    expect(await both).toEqual(['a', 'b']);
  });

  it('pass a failed read to every trap of the group', async () => {
    const groups = new SettleGroups<string>(10, 1000);
    const read = async (): Promise<string> => {
      throw new Error('copy failed');
    };
    const settled = Promise.allSettled([groups.join('g|s', read), groups.join('g|s', read)]);
    await sleep(10);
    const results = await settled;
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
  });
});
