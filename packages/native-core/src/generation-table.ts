import { join } from 'node:path';
import { NativeErrors, VmiError } from '@vmi/contracts';
import { nonEmptyString, nonNegativeInt, positiveInt, u64 } from './inputs.js';
import type { GenerationTableHandle, NativeGenerationState } from './native.js';
import { native } from './native.js';
import { callNative } from './native-errors.js';

export type GenerationState = NativeGenerationState;

const MAX_SLOTS = 1 << 20;
const TABLE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** Where a guest's table lives by default: shared memory, so the agent and the scanner both map it. */
export function generationTablePath(guestName: string): string {
  if (!TABLE_NAME.test(guestName)) {
    throw new VmiError(NativeErrors.BAD_ARGUMENT, 'guest name must be 1-64 characters of [A-Za-z0-9_.-]', { path: '/guestName' });
  }
  return join('/dev/shm', `vmi-gen-${guestName}`);
}

/**
 * The write-generation table (layout in native/common/generation_table.h). The trap engine writes it:
 * every trapped write bumps the generation of each slot it overlaps, and the global one, before the
 * vCPU resumes. The trap guard of `guardedCopy` reads it around a copy.
 */
export class GenerationTable {
  readonly path: string;
  readonly #handle: GenerationTableHandle;

  private constructor(path: string, handle: GenerationTableHandle) {
    this.path = path;
    this.#handle = handle;
  }

  /** Writer side: creates (or replaces) the table with `slots` unused slots. */
  static create(path: string, options: { slots: number }): GenerationTable {
    const file = nonEmptyString(path, 'path');
    const slots = positiveInt(options.slots, 'slots', MAX_SLOTS);
    return new GenerationTable(
      file,
      callNative(() => native().genCreate(file, slots)),
    );
  }

  /** Maps an existing table, read-only unless asked (magic, version and size are checked). */
  static open(path: string, options: { writable?: boolean } = {}): GenerationTable {
    const file = nonEmptyString(path, 'path');
    const writable = options.writable ?? false;
    return new GenerationTable(
      file,
      callNative(() => native().genOpen(file, writable)),
    );
  }

  /** Writer: points a slot at a guest-physical range (length 0n frees it). */
  setSlot(slot: number, physStart: bigint, length: bigint): void {
    const index = nonNegativeInt(slot, 'slot', MAX_SLOTS - 1);
    const start = u64(physStart, 'physStart');
    const len = u64(length, 'length');
    callNative(() => native().genSetSlot(this.#handle, index, start, len));
  }

  /** Writer: records one trapped write; returns how many slots it overlapped. */
  recordWrite(phys: bigint, length: bigint): number {
    const start = u64(phys, 'phys');
    const len = u64(length, 'length');
    return callNative(() => native().genRecordWrite(this.#handle, start, len));
  }

  read(): GenerationState {
    return callNative(() => native().genRead(this.#handle));
  }

  close(): void {
    callNative(() => native().genClose(this.#handle));
  }

  /** @internal The native handle, for the guarded copy. */
  nativeHandle(): GenerationTableHandle {
    return this.#handle;
  }
}
