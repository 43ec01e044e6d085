/** Validation and defaults: the native side receives resolved values only. */
import { NativeErrors, VmiError } from '@vmi/contracts';
import type { NativeTrapConfig } from '../native.js';
import type { KernelLayout, ProtectTarget, TrapEngineOptions } from './types.js';

export const DEFAULT_PAGE_OFFSET_BASE = 0xffff888000000000n;
export const DEFAULT_CPU_ENTRY_AREA_IDT = 0xfffffe0000000000n;
/** Longest object one protect() call takes; gdbstub splits it into page-sized watchpoints. */
export const MAX_OBJECT_BYTES = 64 * 1024;
/** Physical page traps cost one protected page per 4 KiB, so whole kernel text fits in one object. */
export const MAX_PHYSICAL_OBJECT_BYTES = 64 * 1024 * 1024;
const U64_MAX = (1n << 64n) - 1n;

function bad(path: string, detail: string): VmiError {
  return new VmiError(NativeErrors.BAD_ARGUMENT, detail, { path });
}

function intIn(value: unknown, path: string, min: number, max: number, fallback?: number): number {
  if (value === undefined && fallback !== undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw bad(path, `must be an integer from ${min} to ${max}`);
  }
  return value;
}

function u64(value: unknown, path: string): bigint {
  if (typeof value !== 'bigint' || value < 0n || value > U64_MAX) throw bad(path, 'must be a bigint from 0 to 2^64-1');
  return value;
}

function nonEmpty(value: unknown, path: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.includes('\0')) throw bad(path, 'must be a non-empty string');
  return value;
}

export interface ResolvedKernel {
  readonly pageOffsetBase: bigint;
  readonly idtTable: bigint | null;
  readonly cpuEntryAreaIdt: bigint;
}

export interface ResolvedOptions {
  readonly native: NativeTrapConfig;
  readonly kernel: ResolvedKernel;
}

export function resolveKernel(kernel: KernelLayout | undefined): ResolvedKernel {
  return {
    pageOffsetBase: kernel?.pageOffsetBase === undefined ? DEFAULT_PAGE_OFFSET_BASE : u64(kernel.pageOffsetBase, '/kernel/pageOffsetBase'),
    idtTable: kernel?.idtTable === undefined ? null : u64(kernel.idtTable, '/kernel/idtTable'),
    cpuEntryAreaIdt:
      kernel?.cpuEntryAreaIdt === undefined ? DEFAULT_CPU_ENTRY_AREA_IDT : u64(kernel.cpuEntryAreaIdt, '/kernel/cpuEntryAreaIdt'),
  };
}

export function resolveOptions(options: TrapEngineOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw bad('', 'options must be an object');
  if (options.backend !== 'gdbstub' && options.backend !== 'uffd') throw bad('/backend', "must be 'gdbstub' or 'uffd'");
  if (typeof options.onEvents !== 'function') throw bad('/onEvents', 'must be a function');
  const mode = options.mode ?? 'monitor';
  if (mode !== 'monitor' && mode !== 'enforce') throw bad('/mode', "must be 'monitor' or 'enforce'");
  if (mode === 'enforce' && options.backend === 'uffd') {
    throw bad('/mode', 'the uffd backend resumes natively (a held fault would trip its watchdog); use gdbstub for enforce');
  }
  const ramPath = nonEmpty(options.ramPath, '/ramPath');
  const ramLayout = (options.ramLayout ?? []).map((r, i) => ({
    phys: u64(r.phys, `/ramLayout/${i}/phys`),
    fileOffset: u64(r.fileOffset, `/ramLayout/${i}/fileOffset`),
    length: u64(r.length, `/ramLayout/${i}/length`),
  }));
  let host = '';
  let port = 0;
  let unixPath = '';
  let connectTimeoutMs = 5000;
  let replyTimeoutMs = 5000;
  let uffdSocket = '';
  let reprotectWindowUs = 200;
  let watchdogMs = 200;
  if (options.backend === 'gdbstub') {
    const g = options.gdbstub;
    if (g === undefined) throw bad('/gdbstub', 'is required for the gdbstub backend');
    if (g.path !== undefined) {
      unixPath = nonEmpty(g.path, '/gdbstub/path');
      if (Buffer.byteLength(unixPath) > 107) throw bad('/gdbstub/path', 'is longer than a UNIX socket path may be');
    } else {
      host = g.host === undefined ? '127.0.0.1' : nonEmpty(g.host, '/gdbstub/host');
      port = intIn(g.port, '/gdbstub/port', 1, 65535);
    }
    connectTimeoutMs = intIn(g.connectTimeoutMs, '/gdbstub/connectTimeoutMs', 1, 600_000, connectTimeoutMs);
    replyTimeoutMs = intIn(g.replyTimeoutMs, '/gdbstub/replyTimeoutMs', 1, 600_000, replyTimeoutMs);
  } else {
    const u = options.uffd;
    if (u === undefined) throw bad('/uffd', 'is required for the uffd backend');
    uffdSocket = nonEmpty(u.socketPath, '/uffd/socketPath');
    if (Buffer.byteLength(uffdSocket) > 107) throw bad('/uffd/socketPath', 'is longer than a UNIX socket path may be');
    connectTimeoutMs = intIn(u.connectTimeoutMs, '/uffd/connectTimeoutMs', 1, 600_000, connectTimeoutMs);
    reprotectWindowUs = intIn(u.reprotectWindowUs, '/uffd/reprotectWindowUs', 0, 1_000_000, reprotectWindowUs);
    watchdogMs = intIn(u.watchdogMs, '/uffd/watchdogMs', 10, 60_000, watchdogMs);
  }
  const queueCapacity = intIn(options.queueCapacity, '/queueCapacity', 1, 1 << 20, 4096);
  const batchMax = intIn(options.batchMax, '/batchMax', 1, 1 << 16, 256);
  const gen = options.generationTable;
  const generationPath = gen === undefined ? '' : nonEmpty(gen.path, '/generationTable/path');
  const generationSlots = gen === undefined ? 0 : intIn(gen.slots, '/generationTable/slots', 1, 1 << 20, 1024);
  return {
    native: {
      backend: options.backend,
      mode,
      host,
      port,
      unixPath,
      connectTimeoutMs,
      replyTimeoutMs,
      ramPath,
      ramLayout,
      uffdSocket,
      reprotectWindowUs,
      watchdogMs,
      queueCapacity,
      batchMax,
      generationPath,
      generationSlots,
    },
    kernel: resolveKernel(options.kernel),
  };
}

export interface ResolvedTarget {
  readonly tag: string;
  readonly phys: bigint;
  readonly length: number;
  readonly virt: bigint | null;
  readonly aliases: 'kernel' | 'none' | readonly bigint[];
}

export function resolveTarget(target: ProtectTarget, backend: 'gdbstub' | 'uffd'): ResolvedTarget {
  if (typeof target !== 'object' || target === null) throw bad('', 'target must be an object');
  const tag = nonEmpty(target.tag, '/tag');
  if (tag.length > 256) throw bad('/tag', 'must be at most 256 characters');
  const phys = u64(target.phys, '/phys');
  if (phys >= 1n << 52n) throw bad('/phys', 'is beyond the x86-64 physical address space');
  const length = intIn(target.length, '/length', 1, backend === 'uffd' ? MAX_PHYSICAL_OBJECT_BYTES : MAX_OBJECT_BYTES);
  const virt = target.virt === undefined ? null : u64(target.virt, '/virt');
  if (backend === 'gdbstub' && virt === null) throw bad('/virt', 'is required by the gdbstub backend');
  if (virt !== null && virt + BigInt(length) > U64_MAX + 1n) throw bad('/virt', 'range wraps the address space');
  const aliases = target.aliases ?? 'kernel';
  if (Array.isArray(aliases)) {
    for (const [i, a] of aliases.entries()) u64(a, `/aliases/${i}`);
  } else if (aliases !== 'kernel' && aliases !== 'none') {
    throw bad('/aliases', "must be 'kernel', 'none' or a list of bigint addresses");
  }
  return { tag, phys, length, virt, aliases };
}
