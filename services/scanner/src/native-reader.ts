import { isVmiError, NativeErrors, type ProtectedGuestRecord } from '@vmi/contracts';
import { GenerationTable, GuestMemory, guardedCopy } from '@vmi/native-core';
import type { OpenReader } from './guest-context.js';
import type { GuardedBytes, GuestReader } from './guest-reader.js';

type GuardRequest = 'auto' | 'rtm' | 'trap' | 'pause';

function openTable(record: ProtectedGuestRecord): GenerationTable | null {
  if (record.generation_table === null) return null;
  try {
    return GenerationTable.open(record.generation_table);
  } catch {
    // The agent has not created it (yet): copies go without the trap guard.
    return null;
  }
}

/**
 * Guest memory through the native core: the RAM file mapped read-only, copies guarded by RTM or by
 * the trap engine's write generations. An object no guard can cover (not trapped, no RTM) is read
 * once unguarded, and the result says so (`guard: none`).
 */
export function nativeReader(guard: GuardRequest): OpenReader {
  return async (record: ProtectedGuestRecord): Promise<GuestReader> => {
    const memory = GuestMemory.open(record.ram_file);
    let table = openTable(record);
    return {
      async copy(phys: bigint, length: number): Promise<GuardedBytes> {
        table ??= openTable(record);
        try {
          const r = await guardedCopy(memory, { phys, length }, { guard, generationTable: table });
          return { bytes: r.buffers[0] as Buffer, guard: r.guard, attempts: r.attempts, aborts: r.aborts };
        } catch (err) {
          if (guard !== 'auto' || !isVmiError(err, NativeErrors.GUARD_UNAVAILABLE.code)) throw err;
          return { bytes: await memory.readPhys(phys, length), guard: 'none', attempts: 1, aborts: 0 };
        }
      },
      async hash(phys: bigint, length: number): Promise<string> {
        return (await memory.hashPhys({ phys, length })).toString('hex');
      },
      differing(ranges: ReadonlyArray<{ phys: bigint; length: number }>, expected: readonly Buffer[]): Promise<number[]> {
        return memory.diffPhys(ranges, expected);
      },
      close() {
        table?.close();
        memory.close();
      },
    };
  };
}
