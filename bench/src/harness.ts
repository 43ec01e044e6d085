import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compare, median, parseTarget, summarize } from './stats.js';

/** What one run returns: a number per metric, or an array of samples (latencies) to take percentiles of. */
export type RunMetrics = Record<string, number | number[]>;
export type Metrics = Record<string, number>;

export interface BenchContext<S> {
  /** 0-based index of this measured run (warm-up runs are negative). */
  run: number;
  state: S;
}

export interface BenchTargetSpec {
  name: string;
  /** `<metric> <op> <number>`, e.g. `trap_to_finding_ms_p99 < 50`; the metric is looked up in `metrics`. */
  expression: string;
}

export interface RunBenchOptions<S = undefined> {
  /** Results go to `bench/results/<name>.json`. */
  name: string;
  /** Measured runs (default 5). */
  runs?: number;
  /** Runs before the measured ones whose results are dropped (default 0). */
  warmup?: number;
  setup?: () => Promise<S> | S;
  teardown?: (state: S) => Promise<void> | void;
  run: (ctx: BenchContext<S>) => Promise<RunMetrics>;
  /**
   * The same measurement without the thing under test (e.g. an unprotected guest). It runs right
   * before each measured run, so drift hits both alike; its medians are reported as `baseline`.
   */
  baseline?: (ctx: BenchContext<S>) => Promise<RunMetrics>;
  /** Extra metrics computed from the medians (e.g. overhead in percent against the baseline). */
  derive?: (metrics: Metrics, baseline: Metrics | undefined) => Metrics;
  /** Percentiles reported for sample-array metrics (default 50 and 99), as `<metric>_p<N>`. */
  percentiles?: number[];
  targets?: BenchTargetSpec[];
  /** Units by metric name, for readers of the results file. */
  units?: Record<string, string>;
  /** What was measured and how, in a sentence or two. */
  description?: string;
  /** Defaults to `bench/results`. */
  resultsDir?: string;
  /** Print the summary line (default true). */
  print?: boolean;
}

export interface TargetResult {
  name: string;
  expression: string;
  actual: number | null;
  pass: boolean;
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  memory_gib: number;
  kernel: string;
  os: string;
  arch: string;
  node: string;
  /** 1-minute load average when the bench started: a busy machine skews results. */
  load_1m: number;
}

export interface BenchResult {
  name: string;
  description: string | null;
  commit: { sha: string; dirty: boolean };
  machine: MachineInfo;
  started_at: string;
  duration_s: number;
  runs: number;
  warmup: number;
  /** Medians over runs of scalar metrics; pooled percentiles, mean, max and count of sample metrics. */
  metrics: Metrics;
  baseline: Metrics | null;
  /** Scalar metrics of each measured run, in run order. */
  per_run: Record<string, number[]>;
  units: Record<string, string>;
  targets: TargetResult[];
  file: string;
}

export const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, {
      cwd: fileURLToPath(new URL('.', import.meta.url)),
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return null;
  }
}

export function commitInfo(): { sha: string; dirty: boolean } {
  const sha = git(['rev-parse', 'HEAD']) ?? 'unknown';
  const status = git(['status', '--porcelain', '--untracked-files=no']);
  return { sha, dirty: status === null ? false : status.length > 0 };
}

export function machineInfo(): MachineInfo {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    memory_gib: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    os: type(),
    arch: process.arch,
    node: process.version,
    load_1m: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
}

/**
 * Reduces the runs' metrics: a scalar metric becomes the median over runs; a sample-array metric is
 * pooled over runs and reported as `<m>_p<N>` for each percentile, plus `<m>_mean`, `<m>_max`,
 * `<m>_count`.
 */
export function reduceRuns(
  runs: readonly RunMetrics[],
  percentiles: readonly number[] = [50, 99],
): { metrics: Metrics; perRun: Record<string, number[]> } {
  const scalars: Record<string, number[]> = {};
  const samples: Record<string, number[]> = {};
  for (const r of runs) {
    for (const [k, v] of Object.entries(r)) {
      const into = Array.isArray(v) ? samples : scalars;
      const list = into[k] ?? [];
      into[k] = list;
      // A loop, not push(...v): sample arrays can be longer than the argument limit.
      if (Array.isArray(v)) for (const x of v) list.push(x);
      else list.push(v);
    }
  }
  const metrics: Metrics = {};
  for (const [k, values] of Object.entries(scalars)) metrics[k] = median(values);
  for (const [k, values] of Object.entries(samples)) {
    const s = summarize(values, percentiles);
    for (const [p, v] of Object.entries(s.percentiles)) metrics[`${k}_${p}`] = v;
    metrics[`${k}_mean`] = s.mean;
    metrics[`${k}_max`] = s.max;
    metrics[`${k}_count`] = s.count;
  }
  return { metrics, perRun: scalars };
}

export function evaluateTargets(targets: readonly BenchTargetSpec[], metrics: Metrics): TargetResult[] {
  return targets.map((t) => {
    const parsed = parseTarget(t.expression);
    const actual = metrics[parsed.metric];
    const known = actual !== undefined && Number.isFinite(actual);
    return {
      name: t.name,
      expression: t.expression,
      actual: known ? actual : null,
      pass: known && compare(actual, parsed.op, parsed.value),
    };
  });
}

function round(v: number): number {
  if (!Number.isFinite(v)) return v;
  const abs = Math.abs(v);
  return abs >= 100 ? Math.round(v) : abs >= 1 ? Math.round(v * 100) / 100 : Number(v.toPrecision(3));
}

export function summaryLine(result: BenchResult): string {
  const shown = Object.entries(result.metrics)
    .filter(([k]) => !k.endsWith('_count') && !k.endsWith('_max') && !k.endsWith('_mean'))
    .map(([k, v]) => `${k}=${round(v)}`)
    .join(' ');
  const passed = result.targets.filter((t) => t.pass).length;
  const targets =
    result.targets.length === 0 ? '' : ` targets ${passed}/${result.targets.length}${passed === result.targets.length ? ' pass' : ' FAIL'}`;
  return `bench ${result.name}: runs=${result.runs} ${shown}${targets} -> ${relative(process.cwd(), result.file)}`;
}

/**
 * Runs a benchmark: optional setup, warm-up runs, measured runs (each after its baseline run when
 * one is given), teardown; reduces, checks targets, writes `bench/results/<name>.json` and prints
 * one summary line. Teardown runs even when a run throws.
 */
export async function runBench<S = undefined>(options: RunBenchOptions<S>): Promise<BenchResult> {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(options.name)) throw new Error(`bench name must be kebab-case: ${options.name}`);
  const runs = options.runs ?? 5;
  const warmup = options.warmup ?? 0;
  const percentiles = options.percentiles ?? [50, 99];
  const startedAt = new Date();
  const machine = machineInfo();
  const state = (await options.setup?.()) as S;
  const measured: RunMetrics[] = [];
  const baselines: RunMetrics[] = [];
  try {
    for (let i = -warmup; i < runs; i++) {
      const ctx = { run: i, state };
      const b = options.baseline === undefined ? undefined : await options.baseline(ctx);
      const m = await options.run(ctx);
      if (i < 0) continue;
      measured.push(m);
      if (b !== undefined) baselines.push(b);
    }
  } finally {
    await options.teardown?.(state);
  }
  const { metrics, perRun } = reduceRuns(measured, percentiles);
  const baseline = options.baseline === undefined ? null : reduceRuns(baselines, percentiles).metrics;
  Object.assign(metrics, options.derive?.(metrics, baseline ?? undefined) ?? {});
  const dir = options.resultsDir ?? RESULTS_DIR;
  const file = join(dir, `${options.name}.json`);
  const result: BenchResult = {
    name: options.name,
    description: options.description ?? null,
    commit: commitInfo(),
    machine,
    started_at: startedAt.toISOString(),
    duration_s: Math.round((Date.now() - startedAt.getTime()) / 100) / 10,
    runs,
    warmup,
    metrics,
    baseline,
    per_run: perRun,
    units: options.units ?? {},
    targets: evaluateTargets(options.targets ?? [], { ...metrics, ...prefixed('baseline.', baseline ?? {}) }),
    file,
  };
  mkdirSync(dir, { recursive: true });
  const { file: _file, ...written } = result;
  writeFileSync(file, `${JSON.stringify(written, null, 2)}\n`);
  if (options.print !== false) process.stdout.write(`${summaryLine(result)}\n`);
  return result;
}

function prefixed(prefix: string, metrics: Metrics): Metrics {
  return Object.fromEntries(Object.entries(metrics).map(([k, v]) => [`${prefix}${k}`, v]));
}

/** Wall-clock milliseconds with sub-millisecond resolution, for latency samples. */
export function nowMs(): number {
  return performance.now();
}
