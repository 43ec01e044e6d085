import { getPriority } from 'node:os';
import { Worker } from 'node:worker_threads';
import { isVmiError } from '@vmi/contracts';
import { afterEach, describe, expect, it } from 'vitest';
import { BaseServiceConfig, loadConfig } from './config.js';
import { createLogger } from './logger.js';
import { setProcessNice } from './process-priority.js';

const logger = createLogger({ service: 'process-priority-test', level: 'silent' });
const initial = getPriority();

afterEach(() => {
  setProcessNice(initial, logger);
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

describe('service priority', () => {
  it('sets the nice value of every thread, those already running and those started after', async () => {
    const before = otherThread();
    try {
      expect(await before.nice()).toBe(initial);
      expect(setProcessNice(initial + 3, logger)).toBe(true);
      expect(getPriority()).toBe(initial + 3);
      expect(await before.nice()).toBe(initial + 3);
      const after = otherThread();
      try {
        expect(await after.nice()).toBe(initial + 3);
      } finally {
        await after.stop();
      }
    } finally {
      await before.stop();
    }
  });

  it('reports a value the system refuses instead of throwing, and changes no thread', async () => {
    const other = otherThread();
    try {
      expect(setProcessNice(-21, logger)).toBe(false);
      expect(getPriority()).toBe(initial);
      expect(await other.nice()).toBe(initial);
    } finally {
      await other.stop();
    }
  });

  it('takes SERVICE_NICE from the environment and refuses one out of range', () => {
    expect(loadConfig(BaseServiceConfig, { SERVICE_NICE: '-5' }).serviceNice).toBe(-5);
    expect(loadConfig(BaseServiceConfig, {}).serviceNice).toBeUndefined();
    try {
      loadConfig(BaseServiceConfig, { SERVICE_NICE: '30' });
      expect.unreachable('an out-of-range nice value was accepted');
    } catch (err) {
      expect(isVmiError(err) && err.code).toBe('VMI_ERR_CONFIG');
    }
  });
});
