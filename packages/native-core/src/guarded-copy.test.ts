import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isVmiError } from '@vmi/contracts';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SYNC_COPY_MAX_BYTES } from './guarded-copy.js';
import { GenerationTable, GuestMemory, guardedCopy, type PauseControl, probeFeatures, selectGuards } from './index.js';
import { native } from './native.js';

const dir = mkdtempSync(join(tmpdir(), 'vmi-guarded-copy-'));
const addonPath = process.env.VMI_NATIVE_ADDON || new URL('../build/Release/vmi_native.node', import.meta.url).pathname;
const writerScript = new URL('./testing/halves-writer.cjs', import.meta.url).pathname;

const BASE = 0x10000n;
const WORDS = 16 * 1024; // two halves of 128 KiB
const HALF = WORDS * 8;
const ranges = [
  { phys: BASE, length: HALF },
  { phys: BASE + BigInt(HALF), length: HALF },
];

const writers: ChildProcess[] = [];
let ramPath: string;
let memory: GuestMemory;

beforeAll(() => {
  ramPath = join(dir, 'guest.ram');
  closeSync(openSync(ramPath, 'w'));
  truncateSync(ramPath, 1 << 20);
  memory = GuestMemory.open(ramPath);
});
afterEach(async () => {
  // A writer must be gone before the next test resets the buffer: a late store would break it.
  await Promise.all(
    writers.splice(0).map(async (w) => {
      if (w.exitCode === null && w.signalCode === null) {
        const exited = once(w, 'exit');
        w.kill('SIGKILL');
        await exited;
      }
    }),
  );
});
afterAll(() => {
  memory.close();
  rmSync(dir, { recursive: true, force: true });
});

async function startWriter(tablePath: string | null, burstPauseMs: number): Promise<ChildProcess> {
  // Start from equal halves, so every instant of the writer's work differs in at most one word.
  const reset = GuestMemory.open(ramPath, { writable: true });
  reset.writePhys(BASE, Buffer.alloc(2 * HALF));
  reset.close();
  const child = spawn(process.execPath, [writerScript, addonPath, ramPath, tablePath ?? '-', `${BASE}`, `${WORDS}`, `${burstPauseMs}`], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  writers.push(child);
  const stdout = child.stdout;
  if (stdout === null) throw new Error('writer has no stdout');
  await once(stdout, 'data');
  return child;
}

/** Word indexes where the halves differ; one at most is possible at any instant. */
function mismatches(first: Buffer, second: Buffer): number {
  let count = 0;
  for (let i = 0; i < HALF; i += 8) if (first.readBigUInt64LE(i) !== second.readBigUInt64LE(i)) count++;
  return count;
}

function isTorn([first, second]: Buffer[]): boolean {
  if (first === undefined || second === undefined) throw new Error('two buffers expected');
  return mismatches(first, second) > 1;
}

/** Stops the writer the way QMP `stop` stops vCPUs: it halts wherever it is. */
function stopSignals(child: ChildProcess): PauseControl {
  const pid = child.pid ?? -1;
  const state = () => readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0];
  return {
    async pause() {
      process.kill(pid, 'SIGSTOP');
      while (state() !== 'T') await sleep(1);
    },
    async resume() {
      process.kill(pid, 'SIGCONT');
    },
  };
}

describe('guard selection', () => {
  const none = { rtm: false, trap: false, pause: false };

  it('prefers rtm, then trap, then pause under auto', () => {
    expect(selectGuards('auto', { rtm: true, trap: true, pause: true })).toEqual(['rtm', 'trap', 'pause']);
    expect(selectGuards('auto', { ...none, trap: true, pause: true })).toEqual(['trap', 'pause']);
    expect(selectGuards('auto', { ...none, pause: true })).toEqual(['pause']);
    expect(() => selectGuards('auto', none)).toThrow(expect.objectContaining({ code: 'VMI_ERR_NATIVE_GUARD_UNAVAILABLE' }));
  });

  it('uses an explicit guard alone, and only if available', () => {
    expect(selectGuards('trap', { rtm: true, trap: true, pause: true })).toEqual(['trap']);
    expect(() => selectGuards('pause', { ...none, rtm: true })).toThrow(
      expect.objectContaining({ code: 'VMI_ERR_NATIVE_GUARD_UNAVAILABLE' }),
    );
  });

  it('picks trap then pause on this CPU when it has no RTM, and refuses a forced rtm', async () => {
    const table = GenerationTable.create(join(dir, 'select.gen'), { slots: 1 });
    table.setSlot(0, BASE, BigInt(2 * HALF));
    const noop: PauseControl = { pause: async () => {}, resume: async () => {} };
    try {
      const auto = await guardedCopy(memory, ranges, { generationTable: table, pause: noop });
      const paused = await guardedCopy(memory, ranges, { pause: noop });
      if (probeFeatures().cpu.rtm) {
        expect(auto.guard).toBe('rtm');
        expect((await guardedCopy(memory, ranges, { guard: 'rtm' })).guard).toBe('rtm');
      } else {
        expect(auto.guard).toBe('trap');
        expect(paused.guard).toBe('pause');
        // The refusal comes from the native side, beside the instruction it protects.
        await expect(guardedCopy(memory, ranges, { guard: 'rtm' })).rejects.toMatchObject({ code: 'VMI_ERR_NATIVE_GUARD_UNAVAILABLE' });
      }
      if (probeFeatures().cpu.rtm) {
        expect((await guardedCopy(memory, ranges)).guard).toBe('rtm');
      } else {
        await expect(guardedCopy(memory, ranges)).rejects.toMatchObject({ code: 'VMI_ERR_NATIVE_GUARD_UNAVAILABLE' });
      }
    } finally {
      table.close();
    }
  });

  it('copies into caller buffers when given, and checks them', async () => {
    const table = GenerationTable.create(join(dir, 'into.gen'), { slots: 1 });
    table.setSlot(0, BASE, BigInt(2 * HALF));
    const into = [Buffer.alloc(HALF, 0xee), Buffer.alloc(HALF, 0xee)];
    try {
      const result = await guardedCopy(memory, ranges, { guard: 'trap', generationTable: table, into });
      expect(result.buffers[0]).toBe(into[0]);
      expect(result.buffers[1]).toBe(into[1]);
      expect(into[0]).toEqual(memory.readPhysSync(BASE, HALF));
      await expect(
        guardedCopy(memory, ranges, { guard: 'trap', generationTable: table, into: [Buffer.alloc(HALF)] }),
      ).rejects.toMatchObject({
        code: 'VMI_ERR_NATIVE_BAD_ARGUMENT',
      });
      await expect(
        guardedCopy(memory, ranges, { guard: 'trap', generationTable: table, into: [Buffer.alloc(HALF), Buffer.alloc(8)] }),
      ).rejects.toMatchObject({ code: 'VMI_ERR_NATIVE_BAD_ARGUMENT', path: '/into/1' });
    } finally {
      table.close();
    }
  });

  it('copies more than the calling-thread bound on a worker, and refuses a bad sync option', async () => {
    const path = join(dir, 'large.ram');
    closeSync(openSync(path, 'w'));
    truncateSync(path, 4 << 20);
    const writer = GuestMemory.open(path, { writable: true });
    const large = GuestMemory.open(path);
    const table = GenerationTable.create(join(dir, 'large.gen'), { slots: 1 });
    const length = SYNC_COPY_MAX_BYTES + 4096;
    try {
      writer.writePhys(0n, randomBytes(SYNC_COPY_MAX_BYTES));
      writer.writePhys(BigInt(SYNC_COPY_MAX_BYTES), randomBytes(4096));
      table.setSlot(0, 0n, BigInt(length));
      const result = await guardedCopy(large, { phys: 0n, length }, { guard: 'trap', generationTable: table });
      expect(result).toMatchObject({ guard: 'trap', attempts: 1, aborts: 0 });
      expect(
        result.buffers[0]?.equals(
          Buffer.concat([large.readPhysSync(0n, SYNC_COPY_MAX_BYTES), large.readPhysSync(BigInt(SYNC_COPY_MAX_BYTES), 4096)]),
        ),
      ).toBe(true);
      // The bound holds in native code too, whatever the caller asks.
      const handle = large.nativeHandle();
      expect(() => native().copyGuardedSync(handle, [{ phys: 0n, length }], [Buffer.alloc(length)], 'plain', null)).toThrow(
        expect.objectContaining({ code: 'VMI_ERR_NATIVE_BAD_ARGUMENT' }),
      );
      await expect(
        guardedCopy(large, { phys: 0n, length: 8 }, { generationTable: table, sync: 'yes' as unknown as boolean }),
      ).rejects.toMatchObject({ code: 'VMI_ERR_NATIVE_BAD_ARGUMENT', path: '/sync' });
    } finally {
      table.close();
      large.close();
      writer.close();
    }
  });

  it('turns a guest RAM file or table cut short under a copy into typed errors', async () => {
    const path = join(dir, 'shrinking.ram');
    closeSync(openSync(path, 'w'));
    truncateSync(path, 1 << 20);
    const shrinking = GuestMemory.open(path);
    const tablePath = join(dir, 'shrinking.gen');
    const table = GenerationTable.create(tablePath, { slots: 512 });
    try {
      table.setSlot(0, 0n, 1n << 20n);
      const range = { phys: 0xc0000n, length: 0x10000 };
      for (const sync of [true, false]) {
        expect((await guardedCopy(shrinking, range, { guard: 'trap', generationTable: table, sync })).guard).toBe('trap');
      }
      truncateSync(path, 0x80000);
      for (const sync of [true, false]) {
        await expect(guardedCopy(shrinking, range, { guard: 'trap', generationTable: table, sync })).rejects.toMatchObject({
          code: 'VMI_ERR_NATIVE_FILE_TRUNCATED',
        });
      }
      truncateSync(path, 1 << 20);
      truncateSync(tablePath, 0);
      for (const sync of [true, false]) {
        await expect(guardedCopy(shrinking, range, { guard: 'trap', generationTable: table, sync })).rejects.toMatchObject({
          code: 'VMI_ERR_NATIVE_BAD_GENERATION_TABLE',
        });
      }
    } finally {
      table.close();
      shrinking.close();
    }
  });

  it('falls back from a table that does not watch the ranges', async () => {
    const table = GenerationTable.create(join(dir, 'partial.gen'), { slots: 2 });
    table.setSlot(0, BASE, BigInt(HALF)); // the second half is not watched
    const noop: PauseControl = { pause: async () => {}, resume: async () => {} };
    try {
      await expect(guardedCopy(memory, ranges, { guard: 'trap', generationTable: table })).rejects.toMatchObject({
        code: 'VMI_ERR_NATIVE_GUARD_UNAVAILABLE',
        details: { address: BASE + BigInt(HALF) },
      });
      if (!probeFeatures().cpu.rtm) {
        const result = await guardedCopy(memory, ranges, { generationTable: table, pause: noop });
        expect(result.guard).toBe('pause');
        expect(result.fallbacks.map((f) => f.guard)).toEqual(['trap']);
      }
    } finally {
      table.close();
    }
  });
});

describe('guarded copy under a concurrent writer', () => {
  it('tears without a guard (the writer really races the copy)', async () => {
    const writer = await startWriter(null, 0);
    const noPause: PauseControl = { pause: async () => {}, resume: async () => {} };
    let torn = 0;
    // Until the first tear, bounded in time: a loaded machine may starve the writer for a while.
    for (const until = Date.now() + 20_000; torn === 0 && Date.now() < until; ) {
      if (isTorn((await guardedCopy(memory, ranges, { guard: 'pause', pause: noPause })).buffers)) torn++;
    }
    expect(writer.exitCode).toBeNull();
    expect(torn).toBeGreaterThan(0);
  });

  // First attempts on the calling thread with the retries on a worker (the default), and every
  // attempt on a worker.
  it.each([true, false])('never returns a torn copy with the trap guard, and reports aborts (sync %s)', async (sync) => {
    const tablePath = join(dir, `trap-${sync}.gen`);
    const table = GenerationTable.create(tablePath, { slots: 4 });
    table.setSlot(0, BASE, BigInt(HALF));
    table.setSlot(1, BASE + BigInt(HALF), BigInt(HALF));
    await startWriter(tablePath, 15);
    let aborts = 0;
    try {
      // At least 40 copies, and on until the writer has disturbed some (bounded in time).
      const until = Date.now() + 20_000;
      for (let i = 0; i < 40 || (aborts === 0 && Date.now() < until); i++) {
        const options = { guard: 'trap', generationTable: table, maxAttempts: 200, retryDelayUs: 200, sync } as const;
        const result = await guardedCopy(memory, ranges, options);
        expect(result.guard).toBe('trap');
        expect(isTorn(result.buffers), `copy ${i}`).toBe(false);
        expect(result.attempts).toBe(result.aborts + 1);
        aborts += result.aborts;
      }
    } finally {
      table.close();
    }
    expect(aborts).toBeGreaterThan(0);
  });

  it('gives up with TORN_COPY rather than return a torn copy when writes never stop', async () => {
    const tablePath = join(dir, 'busy.gen');
    const table = GenerationTable.create(tablePath, { slots: 1 });
    table.setSlot(0, BASE, BigInt(2 * HALF));
    await startWriter(tablePath, 0);
    const codes = new Map<string, number>();
    try {
      // Until the first give-up (a loaded machine may deschedule the writer for a while).
      for (const until = Date.now() + 20_000; (codes.get('torn') ?? 0) === 0 && Date.now() < until; ) {
        try {
          const result = await guardedCopy(memory, ranges, { guard: 'trap', generationTable: table, maxAttempts: 2, retryDelayUs: 0 });
          expect(isTorn(result.buffers)).toBe(false);
          codes.set('ok', (codes.get('ok') ?? 0) + 1);
        } catch (error) {
          if (!isVmiError(error, 'VMI_ERR_NATIVE_TORN_COPY')) throw error;
          expect(error.details?.tried).toEqual([expect.objectContaining({ guard: 'trap', attempts: 2, aborts: 2 })]);
          codes.set('torn', (codes.get('torn') ?? 0) + 1);
        }
      }
    } finally {
      table.close();
    }
    expect(codes.get('torn') ?? 0).toBeGreaterThan(0);
  });

  it('never returns a torn copy with the pause guard, and resumes the writer', async () => {
    const writer = await startWriter(null, 0);
    const control = stopSignals(writer);
    for (let i = 0; i < 20; i++) {
      const result = await guardedCopy(memory, ranges, { guard: 'pause', pause: control });
      expect(result).toMatchObject({ guard: 'pause', attempts: 1, aborts: 0 });
      expect(isTorn(result.buffers), `copy ${i}`).toBe(false);
    }
    // Resumed: the writer keeps changing memory after the last copy.
    const before = memory.readPhysSync(BASE, 2 * HALF);
    let changed = false;
    for (let waited = 0; waited < 10_000 && !changed; waited += 20) {
      await sleep(20);
      changed = !memory.readPhysSync(BASE, 2 * HALF).equals(before);
    }
    expect(changed).toBe(true);
  });

  it('reports a failing pause as PAUSE_FAILED and still resumes after a failed copy', async () => {
    let resumed = 0;
    const failing: PauseControl = {
      pause: async () => {
        throw new Error('monitor gone');
      },
      resume: async () => {},
    };
    await expect(guardedCopy(memory, ranges, { guard: 'pause', pause: failing })).rejects.toMatchObject({
      code: 'VMI_ERR_NATIVE_PAUSE_FAILED',
      details: { step: 'pause' },
    });
    const counting: PauseControl = { pause: async () => {}, resume: async () => void resumed++ };
    await expect(guardedCopy(memory, { phys: 1n << 40n, length: 8 }, { guard: 'pause', pause: counting })).rejects.toMatchObject({
      code: 'VMI_ERR_NATIVE_OUT_OF_RANGE',
    });
    expect(resumed).toBe(1);
  });
});
