import { getPriority } from 'node:os';
import { Worker } from 'node:worker_threads';
import { isVmiError } from '@vmi/contracts';
import { afterEach, describe, expect, it } from 'vitest';
import { BaseServiceConfig, loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { setMainThreadNice } from './thread-priority.js';

const logger = createLogger({ service: 'thread-priority-test', level: 'silent' });
const initial = getPriority();

afterEach(() => {
  setMainThreadNice(initial, logger);
});

/** A thread started now that says its own nice value whenever asked. */
function otherThread(): { nice(): Promise<number>; stop(): Promise<number> } {
  const code =
    "const { parentPort } = require('node:worker_threads'); parentPort.on('message', () => parentPort.postMessage(require('node:os').getPriority()));";
  const worker = new Worker(code, { eval: true });
  return {
    nice: () =>
      new Promise((resolve, reject) => {
        worker.once('message', resolve).once('error', reject);
        worker.postMessage('nice?');
      }),
    stop: () => worker.terminate(),
  };
}

describe('main thread priority', () => {
  it('sets the nice value of the calling thread only', async () => {
    const other = otherThread();
    try {
      const before = await other.nice();
      expect(setMainThreadNice(initial + 3, logger)).toBe(true);
      expect(getPriority()).toBe(initial + 3);
      expect(await other.nice()).toBe(before);
    } finally {
      await other.stop();
    }
  });

  it('reports a value the system refuses instead of throwing', () => {
    expect(setMainThreadNice(-21, logger)).toBe(false);
    expect(getPriority()).toBe(initial);
  });

  it('takes MAIN_THREAD_NICE from the environment and refuses one out of range', () => {
    expect(loadConfig(BaseServiceConfig, { MAIN_THREAD_NICE: '-5' }).mainThreadNice).toBe(-5);
    expect(loadConfig(BaseServiceConfig, {}).mainThreadNice).toBeUndefined();
    try {
      loadConfig(BaseServiceConfig, { MAIN_THREAD_NICE: '30' });
      expect.unreachable('an out-of-range nice value was accepted');
    } catch (err) {
      expect(isVmiError(err) && err.code).toBe('VMI_ERR_CONFIG');
    }
  });
});
