import { NativeErrors, VmiError } from '@vmi/contracts';

/** Validation shared by the facade: every value is checked here before it reaches native code. */

const U64_MAX = (1n << 64n) - 1n;
/** Largest single read or copy the facade accepts (keeps a typo from allocating gigabytes). */
export const MAX_TRANSFER_BYTES = 1 << 30;
/** Synchronous reads stay small: anything larger goes through a worker thread. */
export const MAX_SYNC_BYTES = 1 << 20;
export const MAX_RANGES = 4096;

function bad(path: string, detail: string): VmiError {
  return new VmiError(NativeErrors.BAD_ARGUMENT, `${path} ${detail}`, { path: `/${path}` });
}

export function u64(value: unknown, path: string): bigint {
  if (typeof value !== 'bigint') throw bad(path, 'must be a bigint');
  if (value < 0n || value > U64_MAX) throw bad(path, 'must fit in 64 unsigned bits');
  return value;
}

export function byteCount(value: unknown, path: string, max: number = MAX_TRANSFER_BYTES): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw bad(path, 'must be a non-negative integer');
  if (value > max) throw bad(path, `must be at most ${max}`);
  return value;
}

export function positiveInt(value: unknown, path: string, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > max)
    throw bad(path, `must be an integer in [1, ${max}]`);
  return value;
}

export function nonNegativeInt(value: unknown, path: string, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > max)
    throw bad(path, `must be an integer in [0, ${max}]`);
  return value;
}

export function nonEmptyString(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.includes('\0')) throw bad(path, 'must be a non-empty string');
  return value;
}

export function pagingLevels(value: unknown, path: string): 4 | 5 {
  if (value !== 4 && value !== 5) throw bad(path, 'must be 4 or 5');
  return value;
}

export function bytes(value: unknown, path: string, max: number = MAX_TRANSFER_BYTES): Buffer {
  if (!(value instanceof Uint8Array)) throw bad(path, 'must be a Buffer or Uint8Array');
  if (value.byteLength > max) throw bad(path, `must be at most ${max} bytes`);
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

export interface PhysRange {
  /** Guest-physical start address. */
  readonly phys: bigint;
  /** Length in bytes. */
  readonly length: number;
}

/** One range or a list of them; each must be non-empty and must not wrap past 2^64. */
export function physRanges(value: unknown, path: string): { phys: bigint; length: number }[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 || list.length > MAX_RANGES) throw bad(path, `must hold 1 to ${MAX_RANGES} ranges`);
  let total = 0;
  return list.map((item: unknown, i) => {
    if (typeof item !== 'object' || item === null) throw bad(`${path}/${i}`, 'must be an object { phys, length }');
    const range = item as Record<string, unknown>;
    const phys = u64(range.phys, `${path}/${i}/phys`);
    const length = byteCount(range.length, `${path}/${i}/length`);
    if (length === 0) throw bad(`${path}/${i}/length`, 'must be at least 1');
    if (phys + BigInt(length) - 1n > U64_MAX) throw bad(`${path}/${i}`, 'wraps past the end of the address space');
    total += length;
    if (total > MAX_TRANSFER_BYTES) throw bad(path, `must total at most ${MAX_TRANSFER_BYTES} bytes`);
    return { phys, length };
  });
}
