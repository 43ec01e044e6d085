export interface BackoffOptions {
  readonly baseMs: number;
  readonly maxMs: number;
}

/**
 * Exponential back-off with "equal jitter": half the step is fixed, half random, so retries of many
 * connections spread out but never come sooner than half the step.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const step = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, attempt - 1));
  return step / 2 + (random() * step) / 2;
}
