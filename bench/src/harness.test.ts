import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { reduceRuns, runBench } from './harness.js';

describe('the bench harness', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('reduces scalar metrics to medians and pools samples into percentiles', () => {
    const { metrics, perRun } = reduceRuns(
      [
        { ops: 10, latency_ms: [1, 2, 3] },
        { ops: 30, latency_ms: [4, 5] },
        { ops: 20, latency_ms: [6, 7, 8, 9, 10, 11] },
      ],
      [50, 90],
    );
    expect(perRun).toEqual({ ops: [10, 30, 20] });
    expect(metrics.ops).toBe(20);
    expect(metrics.latency_ms_p50).toBe(6);
    expect(metrics.latency_ms_p90).toBeCloseTo(10, 10);
    expect(metrics).toMatchObject({ latency_ms_count: 11, latency_ms_max: 11, latency_ms_mean: 6 });
  });

  it('runs setup, warm-up, baseline and measured runs, teardown, and writes the results file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-'));
    dirs.push(dir);
    const calls: string[] = [];
    const result = await runBench({
      name: 'selftest',
      runs: 3,
      warmup: 1,
      resultsDir: dir,
      print: false,
      setup: () => {
        calls.push('setup');
        return { factor: 2 };
      },
      baseline: async ({ run }) => {
        calls.push(`baseline ${run}`);
        return { elapsed_ms: 100 };
      },
      run: async ({ run, state }) => {
        calls.push(`run ${run}`);
        return { elapsed_ms: 100 * state.factor + run, latency_ms: [run, run + 1] };
      },
      derive: (m, b) => ({ overhead_pct: b?.elapsed_ms ? ((m.elapsed_ms ?? 0) / b.elapsed_ms - 1) * 100 : Number.NaN }),
      teardown: () => {
        calls.push('teardown');
      },
      targets: [
        { name: 'fast enough', expression: 'latency_ms_p99 < 10' },
        { name: 'overhead', expression: 'overhead_pct <= 50' },
        { name: 'baseline sane', expression: 'baseline.elapsed_ms == 100' },
        { name: 'missing metric fails', expression: 'nothing > 0' },
      ],
      units: { elapsed_ms: 'ms' },
    });
    expect(calls).toEqual([
      'setup',
      'baseline -1',
      'run -1',
      'baseline 0',
      'run 0',
      'baseline 1',
      'run 1',
      'baseline 2',
      'run 2',
      'teardown',
    ]);
    expect(result.metrics.elapsed_ms).toBe(201);
    expect(result.metrics.overhead_pct).toBeCloseTo(101, 10);
    expect(result.targets.map((t) => [t.name, t.pass])).toEqual([
      ['fast enough', true],
      ['overhead', false],
      ['baseline sane', true],
      ['missing metric fails', false],
    ]);

    const written = JSON.parse(readFileSync(join(dir, 'selftest.json'), 'utf8'));
    expect(written).toMatchObject({ name: 'selftest', runs: 3, warmup: 1, baseline: { elapsed_ms: 100 }, units: { elapsed_ms: 'ms' } });
    expect(written.commit.sha).toMatch(/^[0-9a-f]{40}$|^unknown$/);
    expect(typeof written.commit.dirty).toBe('boolean');
    expect(written.machine.cores).toBeGreaterThan(0);
    expect(written.machine.kernel.length).toBeGreaterThan(0);
    expect(written.machine.node).toBe(process.version);
    expect(written.per_run.elapsed_ms).toEqual([200, 201, 202]);
    expect(written.metrics.latency_ms_p50).toBe(1.5);
  });

  it('tears down when a run throws', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-'));
    dirs.push(dir);
    let tornDown = false;
    await expect(
      runBench({
        name: 'broken',
        resultsDir: dir,
        print: false,
        run: async () => {
          throw new Error('guest crashed');
        },
        teardown: () => {
          tornDown = true;
        },
      }),
    ).rejects.toThrow('guest crashed');
    expect(tornDown).toBe(true);
  });
});
