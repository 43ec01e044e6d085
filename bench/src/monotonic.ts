/**
 * Milliseconds on the machine's monotonic clock (CLOCK_MONOTONIC, through `process.hrtime`): unlike
 * `performance.now()`, which counts from each process's own start, it compares across processes.
 */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
