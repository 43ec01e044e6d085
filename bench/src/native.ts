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
import { GenerationTable, GuestMemory, guardedCopy, probeFeatures } from '@vmi/native-core';
import { nowMs, runBench } from './harness.js';

const MIB = 1024 * 1024;
const COPY_BYTES = MIB;
const COPIES_PER_RUN = Number(process.env.BENCH_COPIES ?? 300);
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
    `guarded copy (guard 'auto') of ${COPY_BYTES} bytes of mapped guest RAM, ${COPIES_PER_RUN} awaited copies per run, beside ` +
    `Buffer.copy of ${COPY_BYTES} bytes in the same run; SHA-256 of ${HASH_BYTES} bytes of mapped guest RAM off the event loop`,
  runs: 5,
  warmup: 1,
  units: {
    guarded_copy_gbps_1mib: 'GB/s',
    memcpy_gbps_1mib: 'GB/s',
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
    let t0 = nowMs();
    for (let i = 0; i < COPIES_PER_RUN; i++) src.copy(dst);
    const memcpy = gbps(COPY_BYTES * COPIES_PER_RUN, nowMs() - t0);

    // Both sides copy into a buffer they reuse, as a scanner does: a fresh 1 MiB buffer costs 256 page faults.
    const into = [Buffer.alloc(COPY_BYTES)];
    t0 = nowMs();
    for (let i = 0; i < COPIES_PER_RUN; i++) {
      const result = await guardedCopy(memory, { phys: COPY_PHYS, length: COPY_BYTES }, { generationTable: table, into });
      if (result.guard !== state.guard) throw new Error(`expected the ${state.guard} guard, got ${result.guard}`);
    }
    const guarded = gbps(COPY_BYTES * COPIES_PER_RUN, nowMs() - t0);

    // The same copy with no guard at all: what the worker-thread hop alone costs.
    const noPause = { pause: async () => {}, resume: async () => {} };
    t0 = nowMs();
    for (let i = 0; i < COPIES_PER_RUN; i++) {
      await guardedCopy(memory, { phys: COPY_PHYS, length: COPY_BYTES }, { guard: 'pause', pause: noPause, into });
    }
    const plainRead = gbps(COPY_BYTES * COPIES_PER_RUN, nowMs() - t0);

    t0 = nowMs();
    for (let i = 0; i < HASHES_PER_RUN; i++) await memory.hashPhys({ phys: 0n, length: HASH_BYTES });
    const hash = gbps(HASH_BYTES * HASHES_PER_RUN, nowMs() - t0);

    return { memcpy_gbps_1mib: memcpy, guarded_copy_gbps_1mib: guarded, unguarded_copy_gbps_1mib: plainRead, hash_gbps: hash };
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
