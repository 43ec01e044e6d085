import { NativeErrors, VmiError } from '@vmi/contracts';
import { byteCount, bytes, MAX_SYNC_BYTES, nonEmptyString, type PhysRange, pagingLevels, physRanges, u64 } from './inputs.js';
import type { GuestMemoryHandle, NativeLayoutRegion, NativeTranslation } from './native.js';
import { native } from './native.js';
import { awaitNative, callNative } from './native-errors.js';

/** Where a stretch of guest-physical memory lies in the RAM file. */
export interface LayoutRegion {
  readonly guestPhys: bigint;
  readonly fileOffset: bigint;
  readonly length: bigint;
}

export interface GuestMemoryOptions {
  /** Map read-write (only enforce-mode restores need it). Default false. */
  readonly writable?: boolean;
  /** Regions of guest RAM in the file. Default: the whole file, file offset = physical address. */
  readonly layout?: readonly LayoutRegion[];
}

export interface WalkOptions {
  /** 4- or 5-level paging (CR4.LA57). Default 4. */
  readonly levels?: 4 | 5;
}

export type Translation = NativeTranslation;

function layoutOf(value: readonly LayoutRegion[] | undefined): NativeLayoutRegion[] | null {
  if (value === undefined) return null;
  return value.map((r, i) => ({
    guestPhys: u64(r.guestPhys, `layout/${i}/guestPhys`),
    fileOffset: u64(r.fileOffset, `layout/${i}/fileOffset`),
    length: u64(r.length, `layout/${i}/length`),
  }));
}

/**
 * A guest RAM file mapped into this process. Guest memory is untrusted: reads are bounds-checked,
 * page walks cannot loop or crash on malformed tables, and a file truncated behind the mapping gives
 * VMI_ERR_NATIVE_FILE_TRUNCATED instead of a SIGBUS. After close() every call fails with
 * VMI_ERR_NATIVE_CLOSED (work already running finishes on its own reference).
 */
export class GuestMemory {
  readonly path: string;
  readonly writable: boolean;
  readonly fileSize: bigint;
  readonly layout: readonly LayoutRegion[];
  readonly #handle: GuestMemoryHandle;

  private constructor(handle: GuestMemoryHandle) {
    this.#handle = handle;
    const info = callNative(() => native().memoryInfo(handle));
    this.path = info.path;
    this.writable = info.writable;
    this.fileSize = info.fileSize;
    this.layout = Object.freeze(info.layout.map((r) => Object.freeze(r)));
  }

  static open(path: string, options: GuestMemoryOptions = {}): GuestMemory {
    const file = nonEmptyString(path, 'path');
    const layout = layoutOf(options.layout);
    const writable = options.writable ?? false;
    return new GuestMemory(callNative(() => native().memoryOpen(file, writable, layout)));
  }

  /** Reads guest-physical memory on a worker thread. */
  async readPhys(phys: bigint, length: number): Promise<Buffer> {
    const address = u64(phys, 'phys');
    const count = byteCount(length, 'length');
    return awaitNative(() => native().memoryReadPhysAsync(this.#handle, address, count));
  }

  /** Reads up to 1 MiB of guest-physical memory on the calling thread (a page-table entry, a symbol). */
  readPhysSync(phys: bigint, length: number): Buffer {
    const address = u64(phys, 'phys');
    const count = byteCount(length, 'length', MAX_SYNC_BYTES);
    return callNative(() => native().memoryReadPhys(this.#handle, address, count));
  }

  /** Writes guest-physical memory (enforce-mode restores); needs `writable: true`. */
  writePhys(phys: bigint, data: Uint8Array): void {
    const address = u64(phys, 'phys');
    const input = bytes(data, 'data', MAX_SYNC_BYTES);
    callNative(() => native().memoryWritePhys(this.#handle, address, input));
  }

  /** Translates a virtual address with the page tables rooted at `cr3`. */
  translate(cr3: bigint, va: bigint, options: WalkOptions = {}): Translation {
    const root = u64(cr3, 'cr3');
    const address = u64(va, 'va');
    const levels = pagingLevels(options.levels ?? 4, 'levels');
    return callNative(() => native().memoryTranslate(this.#handle, root, address, levels));
  }

  /** Reads virtual memory through a page walk (the range may cross pages), on a worker thread. */
  async readVirt(cr3: bigint, va: bigint, length: number, options: WalkOptions = {}): Promise<Buffer> {
    const root = u64(cr3, 'cr3');
    const address = u64(va, 'va');
    const count = byteCount(length, 'length');
    const levels = pagingLevels(options.levels ?? 4, 'levels');
    return awaitNative(() => native().memoryReadVirtAsync(this.#handle, root, address, count, levels));
  }

  readVirtSync(cr3: bigint, va: bigint, length: number, options: WalkOptions = {}): Buffer {
    const root = u64(cr3, 'cr3');
    const address = u64(va, 'va');
    const count = byteCount(length, 'length', MAX_SYNC_BYTES);
    const levels = pagingLevels(options.levels ?? 4, 'levels');
    return callNative(() => native().memoryReadVirt(this.#handle, root, address, count, levels));
  }

  /** One SHA-256 over the concatenated ranges, read from the mapping on a worker thread. */
  async hashPhys(ranges: PhysRange | readonly PhysRange[]): Promise<Buffer> {
    const list = physRanges(ranges, 'ranges');
    return awaitNative(() => native().memoryHashPhys(this.#handle, list));
  }

  /**
   * Which ranges no longer hold what they should: compares each range with its expected bytes
   * (`expected[i]` for `ranges[i]`, of the same length) straight from the mapping, on a worker
   * thread, without copying or hashing, and resolves with the indices of those that differ, in
   * order. The expected buffers must not change until the promise settles.
   */
  async diffPhys(ranges: readonly PhysRange[], expected: readonly Uint8Array[]): Promise<number[]> {
    const list = physRanges(ranges, 'ranges');
    if (!Array.isArray(expected) || expected.length !== list.length) {
      throw new VmiError(NativeErrors.BAD_ARGUMENT, 'expected must hold one buffer per range', { path: '/expected' });
    }
    const want = list.map((r, i) => {
      const b = bytes(expected[i], `expected/${i}`);
      if (b.length !== r.length) {
        throw new VmiError(NativeErrors.BAD_ARGUMENT, `expected/${i} holds ${b.length} bytes; its range ${r.length}`, {
          path: `/expected/${i}`,
        });
      }
      return b;
    });
    return awaitNative(() => native().memoryDiffPhys(this.#handle, list, want));
  }

  close(): void {
    callNative(() => native().memoryClose(this.#handle));
  }

  /** @internal The native handle, for the guarded copy. */
  nativeHandle(): GuestMemoryHandle {
    return this.#handle;
  }
}
