/**
 * Native core throughput: the guarded copy of 1 MiB of guest RAM beside a plain memcpy of 1 MiB
 * measured in the same run, and SHA-256 over guest RAM (whole-kernel-text baselines). The RAM is a
 * file mapped the way a guest's shared RAM file is; the copy guard is what `auto` picks on this
 * machine (rtm where the CPU has it, else the trap guard over a write-generation table).
 */
import { randomFillSync } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GenerationTable, type GuardedCopyOptions, GuestMemory, guardedCopy, probeFeatures } from '@vmi/native-core';
import { nowMs, runBench } from './harness.js';

const MIB = 1024 * 1024;
const COPY_BYTES = MIB;
const COPIES_PER_RUN = Number(process.env.BENCH_COPIES ?? 300);
/** Copies per batch; batches of each kind alternate, so load that comes and goes hits all alike. */
const COPY_BATCH = 10;
const HASH_BYTES = 64 * MIB;
const HASHES_PER_RUN = Number(process.env.BENCH_HASHES ?? 3);
const COPY_PHYS = 0x100000n;

interface State {
  dir: string;
  memory: GuestMemory;
  table: GenerationTable;
  guard: string;
}

const gbps = (bytes: number, ms: number) => bytes / (ms / 1000) / 1e9;

await runBench<State>({
  name: 'native',
  description:
    `guarded copy (guard 'auto') of ${COPY_BYTES} bytes of mapped guest RAM into a reused buffer, ${COPIES_PER_RUN} awaited ` +
    `copies per run, beside Buffer.copy of ${COPY_BYTES} bytes, the same guarded copy with every attempt on a worker thread ` +
    `and an unguarded copy, in alternating batches of ${COPY_BATCH} in the same run; SHA-256 of ${HASH_BYTES} bytes of mapped ` +
    'guest RAM off the event loop',
  runs: 5,
  warmup: 1,
  units: {
    guarded_copy_gbps_1mib: 'GB/s',
    memcpy_gbps_1mib: 'GB/s',
    guarded_copy_worker_gbps_1mib: 'GB/s',
    unguarded_copy_gbps_1mib: 'GB/s',
    hash_gbps: 'GB/s',
    guarded_copy_vs_memcpy: 'ratio',
  },
  targets: [{ name: 'guarded copy at least half of memcpy', expression: 'guarded_copy_vs_memcpy >= 0.5' }],
  setup: () => {
    const dir = mkdtempSync(join(tmpdir(), 'vmi-bench-native-'));
    const path = join(dir, 'guest.ram');
    const fd = openSync(path, 'w');
    const chunk = Buffer.alloc(8 * MIB);
    for (let written = 0; written < HASH_BYTES + 2 * MIB; written += chunk.length) writeSync(fd, randomFillSync(chunk));
    closeSync(fd);
    const memory = GuestMemory.open(path);
    const table = GenerationTable.create(join(dir, 'generations'), { slots: 16 });
    table.setSlot(0, COPY_PHYS, BigInt(COPY_BYTES));
    return { dir, memory, table, guard: probeFeatures().cpu.rtm ? 'rtm' : 'trap' };
  },
  teardown: ({ dir, memory, table }) => {
    memory.close();
    table.close();
    rmSync(dir, { recursive: true, force: true });
  },
  run: async ({ state }) => {
    const { memory, table } = state;
    const src = Buffer.alloc(COPY_BYTES, 1);
    const dst = Buffer.alloc(COPY_BYTES);
    // Every side copies into a buffer it reuses, as a scanner does: a fresh 1 MiB buffer costs 256 page faults.
    const into = [Buffer.alloc(COPY_BYTES)];
    const range = { phys: COPY_PHYS, length: COPY_BYTES };
    const guarded = async (options: GuardedCopyOptions) => {
      const result = await guardedCopy(memory, range, { generationTable: table, into, ...options });
      if (result.guard !== state.guard) throw new Error(`expected the ${state.guard} guard, got ${result.guard}`);
    };
    // The same copy with no guard at all (one pass, no bookkeeping): the floor for any guard.
    const noPause = { pause: async () => {}, resume: async () => {} };
    const sides: Record<string, () => unknown> = {
      memcpy_gbps_1mib: () => src.copy(dst),
      guarded_copy_gbps_1mib: () => guarded({}),
      // Every attempt on a worker thread: what the thread hop costs beside the default path.
      guarded_copy_worker_gbps_1mib: () => guarded({ sync: false }),
      unguarded_copy_gbps_1mib: () => guardedCopy(memory, range, { guard: 'pause', pause: noPause, into }),
    };
    const spentMs: Record<string, number> = {};
    for (let done = 0; done < COPIES_PER_RUN; done += COPY_BATCH) {
      for (const [metric, copy] of Object.entries(sides)) {
        const t = nowMs();
        for (let i = 0; i < COPY_BATCH; i++) await copy();
        spentMs[metric] = (spentMs[metric] ?? 0) + nowMs() - t;
      }
    }
    const copies = Math.ceil(COPIES_PER_RUN / COPY_BATCH) * COPY_BATCH;
    const metrics: Record<string, number> = {};
    for (const [metric, ms] of Object.entries(spentMs)) metrics[metric] = gbps(COPY_BYTES * copies, ms);

    const t0 = nowMs();
    for (let i = 0; i < HASHES_PER_RUN; i++) await memory.hashPhys({ phys: 0n, length: HASH_BYTES });
    const hash = gbps(HASH_BYTES * HASHES_PER_RUN, nowMs() - t0);

    return { ...metrics, hash_gbps: hash };
  },
  derive: (metrics) => {
    const guarded = metrics.guarded_copy_gbps_1mib ?? 0;
    const memcpy = metrics.memcpy_gbps_1mib ?? 0;
    return { guarded_copy_vs_memcpy: memcpy > 0 ? guarded / memcpy : 0 };
  },
});

// Write traps on a real guest, both backends (guest boots make it the slow part), added to native.json.
const { addTrapResults } = await import('./native-traps.js');
await addTrapResults('native');
