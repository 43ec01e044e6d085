import { readdirSync } from 'node:fs';
import { setPriority } from 'node:os';
import type { Logger } from './logger.js';

/** The threads of this process now: on Linux nice is per thread, so each one is set on its own. */
function threadIds(): number[] {
  try {
    return readdirSync('/proc/self/task').map(Number).filter(Number.isInteger);
  } catch {
    return [];
  }
}

/**
 * Sets the nice value of every thread of this process: the JavaScript thread, the libuv pool that
 * runs native work (guarded copies, compares), V8's compiler and collector threads. Threads started
 * later inherit it from the thread that starts them. A service on the detection path (a guest's
 * write to a finding) runs ahead of the guests it protects this way, whichever of its threads has
 * the work. Best effort: a lower value needs CAP_SYS_NICE, and a service that may not have it runs
 * on at its current priority, which the log says.
 */
export function setProcessNice(nice: number, logger: Logger): boolean {
  try {
    // The calling thread first: a refusal leaves every thread as it was.
    setPriority(nice);
    for (const tid of threadIds()) {
      try {
        setPriority(tid, nice);
      } catch (err) {
        // A thread that ended since the listing has nothing left to set.
        if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
      }
    }
    logger.debug({ nice }, 'process priority set');
    return true;
  } catch (err) {
    logger.info({ nice, reason: (err as Error).message }, 'process priority left as it is');
    return false;
  }
}

/**
 * The host agent and the scanner carry a trap to a finding; on a host whose guests keep every CPU
 * busy they would otherwise wait their turn behind the very vCPUs they watch. Above the guests but
 * not real-time: a busy service can slow a guest, never starve it.
 */
export const DETECTION_PATH_NICE = -5;
