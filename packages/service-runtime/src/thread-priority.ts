import { setPriority } from 'node:os';
import type { Logger } from './logger.js';

/**
 * Sets the nice value of the calling thread (on Linux, nice is per thread: this is the JavaScript
 * thread, not the libuv pool). A service on the detection path (a guest's write to a finding) runs
 * ahead of the guests it protects this way. Best effort: a lower value needs CAP_SYS_NICE, and a
 * service that may not have it runs on at its current priority, which the log says.
 */
export function setMainThreadNice(nice: number, logger: Logger): boolean {
  try {
    setPriority(nice);
    logger.debug({ nice }, 'main thread priority set');
    return true;
  } catch (err) {
    logger.info({ nice, reason: (err as Error).message }, 'main thread priority left as it is');
    return false;
  }
}

/**
 * The host agent and the scanner carry a trap to a finding; on a host whose guests keep every CPU
 * busy they would otherwise wait their turn behind the very vCPUs they watch. Above the guests but
 * not real-time: a busy service can slow a guest, never starve it.
 */
export const DETECTION_PATH_NICE = -5;
