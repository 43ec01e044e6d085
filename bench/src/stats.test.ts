import { describe, expect, it } from 'vitest';
import { compare, mean, median, parseTarget, percentile, summarize } from './stats.js';

describe('bench statistics', () => {
  it('takes medians of odd and even counts without reordering the input', () => {
    const values = [5, 1, 4, 2, 3];
    expect(median(values)).toBe(3);
    expect(values).toEqual([5, 1, 4, 2, 3]);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
    expect(median([])).toBeNaN();
  });

  it('interpolates percentiles between closest ranks', () => {
    const hundred = Array.from({ length: 101 }, (_, i) => i);
    expect(percentile(hundred, 0)).toBe(0);
    expect(percentile(hundred, 50)).toBe(50);
    expect(percentile(hundred, 99)).toBe(99);
    expect(percentile(hundred, 100)).toBe(100);
    expect(percentile([10, 20], 25)).toBe(12.5);
    expect(percentile([1, 2, 3, 4], 99)).toBeCloseTo(3.97, 10);
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });

  it('summarizes a sample', () => {
    const s = summarize([3, 1, 2, 10], [50, 99, 99.9]);
    expect(s).toEqual({
      count: 4,
      mean: 4,
      min: 1,
      max: 10,
      percentiles: { p50: 2.5, p99: expect.any(Number), 'p99.9': expect.any(Number) },
    });
    expect(s.percentiles.p99).toBeCloseTo(9.79, 10);
    expect(mean([])).toBeNaN();
  });

  it('parses and checks target expressions', () => {
    expect(parseTarget('latency_ms_p99 <= 50')).toEqual({ metric: 'latency_ms_p99', op: '<=', value: 50 });
    expect(parseTarget(' throughput_per_s>1e4 ')).toEqual({ metric: 'throughput_per_s', op: '>', value: 10_000 });
    expect(parseTarget('baseline.ops == -0.5')).toEqual({ metric: 'baseline.ops', op: '==', value: -0.5 });
    expect(() => parseTarget('latency < fast')).toThrow(SyntaxError);
    expect(() => parseTarget('rm -rf /')).toThrow(SyntaxError);
    expect(compare(1, '<', 2)).toBe(true);
    expect(compare(2, '<', 2)).toBe(false);
    expect(compare(2, '<=', 2)).toBe(true);
    expect(compare(3, '>=', 2)).toBe(true);
  });
});
