/** Statistics the bench harness reports. Inputs are not modified; empty input gives NaN. */

function sorted(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

/**
 * The `p`th percentile (0..100) by linear interpolation between closest ranks (the common
 * "type 7" definition: numpy's default, Excel's PERCENTILE.INC).
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, got ${p}`);
  const s = sorted(values);
  const rank = (p / 100) * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = s[lo] as number;
  const b = s[hi] as number;
  return a + (b - a) * (rank - lo);
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

export function mean(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  let sum = 0;
  for (const v of values) sum += v;
  return sum / values.length;
}

export interface SampleSummary {
  count: number;
  mean: number;
  min: number;
  max: number;
  /** Percentile name (`p50`, `p99`, `p99.9`) -> value. */
  percentiles: Record<string, number>;
}

/** Count, mean, min, max and the requested percentiles of a sample. */
export function summarize(values: readonly number[], percentiles: readonly number[] = [50, 99]): SampleSummary {
  const s = sorted(values);
  const out: Record<string, number> = {};
  for (const p of percentiles) out[`p${p}`] = percentile(s, p);
  return {
    count: s.length,
    mean: mean(s),
    min: s.length === 0 ? Number.NaN : (s[0] as number),
    max: s.length === 0 ? Number.NaN : (s[s.length - 1] as number),
    percentiles: out,
  };
}

export type Comparison = '<' | '<=' | '>' | '>=' | '==';

export interface ParsedTarget {
  metric: string;
  op: Comparison;
  value: number;
}

/** Parses a target such as `latency_ms_p99 <= 50` or `throughput_per_s > 1e4`. */
export function parseTarget(expression: string): ParsedTarget {
  const m = /^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(<=|>=|==|<|>)\s*(-?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*$/i.exec(expression);
  if (m === null) throw new SyntaxError(`bad target expression: ${JSON.stringify(expression)} (want "<metric> <op> <number>")`);
  return { metric: m[1] as string, op: m[2] as Comparison, value: Number(m[3]) };
}

export function compare(actual: number, op: Comparison, expected: number): boolean {
  switch (op) {
    case '<':
      return actual < expected;
    case '<=':
      return actual <= expected;
    case '>':
      return actual > expected;
    case '>=':
      return actual >= expected;
    case '==':
      return actual === expected;
  }
}
