import { isVmiError, NativeErrors, VmiError } from '@vmi/contracts';
import type { GenerationTable } from './generation-table.js';
import type { GuestMemory } from './guest-memory.js';
import { nonNegativeInt, type PhysRange, physRanges, positiveInt } from './inputs.js';
import type { NativeCopyGuard, NativeCopyOutcome, NativeCopyResult } from './native.js';
import { native } from './native.js';
import { awaitNative, callNative } from './native-errors.js';
import { probeFeatures } from './probe.js';

export type CopyGuardRequest = 'auto' | 'rtm' | 'trap' | 'pause';
export type CopyGuard = 'rtm' | 'trap' | 'pause';

/** Stops and restarts the guest's vCPUs (e.g. QMP `stop` / `cont`); supplied by the caller. */
export interface PauseControl {
  pause(): Promise<void>;
  resume(): Promise<void>;
}

export interface GuardedCopyOptions {
  /** Default 'auto': rtm if the CPU has it, else trap if a table is given, else pause if a control is given. */
  readonly guard?: CopyGuardRequest;
  /** The trap engine's write-generation table covering the ranges (trap guard). */
  readonly generationTable?: GenerationTable | null;
  /** Pause/resume of the guest (pause guard). */
  readonly pause?: PauseControl | null;
  /** Attempts per guard before giving up on it. Default 16. */
  readonly maxAttempts?: number;
  /** First back-off between attempts in microseconds, doubling per attempt (capped at 10 ms). Default 50. */
  readonly retryDelayUs?: number;
  /**
   * Buffers to copy into, one per range with the range's length (default: fresh ones). Reusing them
   * spares a page fault per 4 KiB of a newly allocated buffer, which dominates large copies.
   */
  readonly into?: readonly Buffer[];
  /**
   * Let a copy of at most SYNC_COPY_MAX_BYTES in all make its first attempt on the calling thread
   * (default true; see SYNC_COPY_MAX_BYTES). false: every attempt runs on a worker thread.
   */
  readonly sync?: boolean;
}

export interface GuardAttempt {
  readonly guard: CopyGuard;
  readonly attempts: number;
  readonly aborts: number;
  readonly lastAbort: string | null;
}

export interface GuardedCopyResult {
  /** One buffer per range, in order: a copy no concurrent write tore. */
  readonly buffers: Buffer[];
  /** The guard that produced the copy. */
  readonly guard: CopyGuard;
  /** Attempts and aborts across every guard tried. */
  readonly attempts: number;
  readonly aborts: number;
  /** Guards tried before `guard`, whose retry budgets ran out (auto only). */
  readonly fallbacks: readonly GuardAttempt[];
}

export interface GuardAvailability {
  readonly rtm: boolean;
  readonly trap: boolean;
  readonly pause: boolean;
}

const DEFAULT_MAX_ATTEMPTS = 16;
const DEFAULT_RETRY_DELAY_US = 50;

/**
 * Copies up to this size (1 MiB in all, the bound of the native side too) make their first attempt
 * on the calling thread, and only a disturbed attempt moves on to a worker thread. One attempt is
 * bounded work with no sleep: a copy pass plus, for the trap guard, one verifying pass, tens of
 * microseconds for 1 MiB (the same size bound as readPhysSync). Handing it to a worker instead costs
 * two thread wake-ups, which on a virtual machine take tens of microseconds each, more than the copy.
 */
export const SYNC_COPY_MAX_BYTES = 1 << 20;

/**
 * The guards to try, in order. `auto` prefers hardware transactions (no guest impact), then the trap
 * engine's generations (no pause), then a brief pause; an explicit guard is used alone and must be
 * available.
 */
export function selectGuards(requested: CopyGuardRequest, available: GuardAvailability): CopyGuard[] {
  if (requested !== 'auto') {
    if (!available[requested]) {
      const why = {
        rtm: 'this CPU or kernel does not offer RTM',
        trap: 'the trap guard needs a write-generation table',
        pause: 'the pause guard needs pause/resume callbacks',
      }[requested];
      throw new VmiError(NativeErrors.GUARD_UNAVAILABLE, why, { details: { guard: requested } });
    }
    return [requested];
  }
  const order: CopyGuard[] = (['rtm', 'trap', 'pause'] as const).filter((g) => available[g]);
  if (order.length === 0) {
    throw new VmiError(NativeErrors.GUARD_UNAVAILABLE, 'no RTM, no generation table and no pause control', { details: { guard: 'auto' } });
  }
  return order;
}

function targetBuffers(ranges: readonly { length: number }[], into: readonly Buffer[] | undefined): Buffer[] {
  if (into === undefined) return ranges.map((r) => Buffer.allocUnsafe(r.length));
  if (!Array.isArray(into) || into.length !== ranges.length) {
    throw new VmiError(NativeErrors.BAD_ARGUMENT, 'into must hold one buffer per range', { path: '/into' });
  }
  return ranges.map((r, i) => {
    const buffer = into[i];
    if (!Buffer.isBuffer(buffer) || buffer.length !== r.length) {
      throw new VmiError(NativeErrors.BAD_ARGUMENT, `into/${i} must be a Buffer of ${r.length} bytes`, { path: `/into/${i}` });
    }
    return buffer;
  });
}

function requestOf(value: unknown): CopyGuardRequest {
  if (value === 'auto' || value === 'rtm' || value === 'trap' || value === 'pause') return value;
  throw new VmiError(NativeErrors.BAD_ARGUMENT, 'guard must be auto, rtm, trap or pause', { path: '/guard' });
}

function outcomeOf([completed, guard, attempts, aborts, lastAbort]: NativeCopyResult): NativeCopyOutcome {
  return { completed, guard, attempts, aborts, lastAbort };
}

/** The outcome of a first attempt on the calling thread followed by the rest on a worker. */
function mergeOutcomes(first: NativeCopyOutcome, rest: NativeCopyOutcome): NativeCopyOutcome {
  return {
    completed: rest.completed,
    guard: rest.guard,
    attempts: first.attempts + rest.attempts,
    aborts: first.aborts + rest.aborts,
    lastAbort: rest.lastAbort ?? first.lastAbort,
  };
}

async function runPaused(pause: PauseControl, copy: () => Promise<NativeCopyOutcome>): Promise<NativeCopyOutcome> {
  const failed = (step: string, cause: unknown) =>
    new VmiError(NativeErrors.PAUSE_FAILED, `${step}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
      details: { step },
    });
  try {
    await pause.pause();
  } catch (cause) {
    throw failed('pause', cause);
  }
  let outcome: NativeCopyOutcome;
  try {
    outcome = await copy();
  } catch (error) {
    // The copy failed; still resume, and report the copy's error (a failed resume is secondary).
    await pause.resume().catch(() => undefined);
    throw error;
  }
  try {
    await pause.resume();
  } catch (cause) {
    throw failed('resume', cause);
  }
  return outcome;
}

/**
 * Copies guest-physical ranges so that the result is never torn by a concurrent guest write, using
 * the first available guard (see selectGuards). A copy of at most SYNC_COPY_MAX_BYTES makes one
 * bounded attempt on the calling thread; every retry, and any larger copy, runs off the event loop. Throws
 * VMI_ERR_NATIVE_GUARD_UNAVAILABLE when no guard can run and VMI_ERR_NATIVE_TORN_COPY when every guard
 * ran out of attempts.
 */
export async function guardedCopy(
  memory: GuestMemory,
  ranges: PhysRange | readonly PhysRange[],
  options: GuardedCopyOptions = {},
): Promise<GuardedCopyResult> {
  const list = physRanges(ranges, 'ranges');
  const requested = requestOf(options.guard ?? 'auto');
  const maxAttempts = positiveInt(options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS, 'maxAttempts', 100_000);
  const retryDelayUs = nonNegativeInt(options.retryDelayUs ?? DEFAULT_RETRY_DELAY_US, 'retryDelayUs', 1_000_000);
  if (options.sync !== undefined && typeof options.sync !== 'boolean') {
    throw new VmiError(NativeErrors.BAD_ARGUMENT, 'sync must be a boolean', { path: '/sync' });
  }
  const table = options.generationTable ?? null;
  const pause = options.pause ?? null;
  // An explicit rtm request goes to native code even without RTM, which refuses it itself: the check
  // that keeps _xbegin from running on a CPU without it lives beside the instruction.
  const rtm = requested === 'rtm' ? true : probeFeatures().cpu.rtm;
  const guards = selectGuards(requested, { rtm, trap: table !== null, pause: pause !== null });

  const buffers = targetBuffers(list, options.into);
  const handle = memory.nativeHandle();
  const tableHandle = table?.nativeHandle() ?? null;
  const sync = (options.sync ?? true) && list.reduce((n, r) => n + r.length, 0) <= SYNC_COPY_MAX_BYTES;
  const run = async (guard: NativeCopyGuard, attempts: number): Promise<NativeCopyOutcome> => {
    const tableFor = guard === 'trap' ? tableHandle : null;
    let first: NativeCopyOutcome | null = null;
    if (sync) {
      first = outcomeOf(callNative(() => native().copyGuardedSync(handle, list, buffers, guard, tableFor)));
      if (first.completed || attempts === 1) return first;
    }
    const prior = first?.attempts ?? 0;
    const rest = outcomeOf(
      await awaitNative(() => native().copyGuarded(handle, list, buffers, guard, tableFor, attempts - prior, retryDelayUs, prior)),
    );
    return first === null ? rest : mergeOutcomes(first, rest);
  };

  const tried: GuardAttempt[] = [];
  for (const guard of guards) {
    let outcome: NativeCopyOutcome;
    try {
      if (guard === 'pause') {
        // selectGuards only offers pause when a control was given.
        if (pause === null) throw new VmiError(NativeErrors.GUARD_UNAVAILABLE, 'no pause control');
        outcome = await runPaused(pause, () => run('plain', 1));
      } else {
        outcome = await run(guard, maxAttempts);
      }
    } catch (error) {
      // Under auto, a guard that turns out unusable (ranges not covered by the table) yields to the next.
      if (requested === 'auto' && isVmiError(error, NativeErrors.GUARD_UNAVAILABLE.code) && guard !== guards.at(-1)) {
        tried.push({ guard, attempts: 0, aborts: 0, lastAbort: error.message });
        continue;
      }
      throw error;
    }
    if (outcome.completed) {
      return {
        buffers,
        guard,
        attempts: tried.reduce((n, t) => n + t.attempts, 0) + outcome.attempts,
        aborts: tried.reduce((n, t) => n + t.aborts, 0) + outcome.aborts,
        fallbacks: tried,
      };
    }
    tried.push({ guard, attempts: outcome.attempts, aborts: outcome.aborts, lastAbort: outcome.lastAbort });
  }
  throw new VmiError(NativeErrors.TORN_COPY, `no untorn copy after ${tried.reduce((n, t) => n + t.attempts, 0)} attempts`, {
    details: { tried },
  });
}
