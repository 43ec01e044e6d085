/** Public types of the trap engine facade. */

export type TrapBackendKind = 'gdbstub' | 'uffd';

/** `monitor`: the guest resumes as soon as the event is queued. `enforce`: it waits for `release`. */
export type TrapMode = 'monitor' | 'enforce';

/** Which virtual alias of a protected object a watch covers (`physical` for page-level traps). */
export type TrapAlias = 'image' | 'direct-map' | 'cpu-entry-area' | 'virtual' | 'physical';

/** A guest-physical range and where the RAM file holds it. */
export interface RamRange {
  readonly phys: bigint;
  readonly fileOffset: bigint;
  readonly length: bigint;
}

export interface GdbstubOptions {
  /** TCP host; default `127.0.0.1`. Ignored when `path` is given. */
  readonly host?: string;
  /** TCP port; required unless `path` is given. */
  readonly port?: number;
  /** UNIX socket of a gdbstub started with `-gdb unix:PATH` (a device model without a network). */
  readonly path?: string;
  /** Default 5000. */
  readonly connectTimeoutMs?: number;
  /** Default 5000. */
  readonly replyTimeoutMs?: number;
}

export interface UffdOptions {
  /** The UNIX socket the QEMU preload shim listens on (`VMI_UFFD_SOCKET` in QEMU's environment). */
  readonly socketPath: string;
  /** Default 5000: how long to wait for the shim's socket and its hand-over. */
  readonly connectTimeoutMs?: number;
  /** Default 200 µs: how long a page stays writable after a fault before it is protected again. */
  readonly reprotectWindowUs?: number;
  /** Default 200 ms: a fault unanswered this long makes the watchdog drop protection. */
  readonly watchdogMs?: number;
}

/** Addresses the engine needs to compute a kernel object's aliases. Defaults are x86-64 `nokaslr`. */
export interface KernelLayout {
  /** Default 0xffff888000000000 (the direct map's base, `page_offset_base`). */
  readonly pageOffsetBase?: bigint;
  /** `idt_table`'s kernel-image address: writes to it are also watched at the CPU-entry-area alias. */
  readonly idtTable?: bigint;
  /** Default 0xfffffe0000000000 (`CPU_ENTRY_AREA_RO_IDT`, where `sidt` points). */
  readonly cpuEntryAreaIdt?: bigint;
}

export interface TrapEngineOptions {
  readonly backend: TrapBackendKind;
  /** The guest RAM file (shared memory backend of QEMU). */
  readonly ramPath: string;
  /** Default: the file holds guest-physical memory from 0 (a q35 guest under 2.75 GiB). */
  readonly ramLayout?: readonly RamRange[];
  readonly gdbstub?: GdbstubOptions;
  readonly uffd?: UffdOptions;
  /** Default `monitor`. */
  readonly mode?: TrapMode;
  /** Default 4096 events; when full the guest waits (nothing is dropped). */
  readonly queueCapacity?: number;
  /** Default 256 events per call of `onEvents`. */
  readonly batchMax?: number;
  /** Shared write-generation table for readers in other processes; default none. */
  readonly generationTable?: { readonly path: string; readonly slots?: number };
  readonly kernel?: KernelLayout;
  /** Called on the JavaScript thread with each batch, in sequence order. */
  readonly onEvents: (events: TrapEvent[]) => void;
  /** Called when `onEvents` throws or an event cannot be understood; default: a process warning. */
  readonly onError?: (error: unknown) => void;
}

export interface ProtectTarget {
  /** The caller's name of the object; every event for it carries this tag. */
  readonly tag: string;
  /** Guest-physical address of the first byte. */
  readonly phys: bigint;
  readonly length: number;
  /** Kernel-image virtual address (required by the gdbstub backend). */
  readonly virt?: bigint;
  /**
   * Which virtual aliases to watch (gdbstub): `kernel` (default) = the image address, the direct map
   * and, for the IDT, the CPU-entry-area alias; `none` = `virt` only; or an explicit list of extra
   * virtual addresses.
   */
  readonly aliases?: 'kernel' | 'none' | readonly bigint[];
}

export interface WatchedRange {
  readonly id: number;
  readonly alias: TrapAlias;
  readonly virt: bigint | null;
  readonly phys: bigint;
  readonly length: number;
}

export interface ProtectedObject {
  readonly tag: string;
  readonly phys: bigint;
  readonly length: number;
  readonly watches: readonly WatchedRange[];
}

export type TrapEventKind = 'write' | 'protection-lost' | 'protection-restored';

export interface TrapEvent {
  readonly version: 1;
  readonly kind: TrapEventKind;
  readonly backend: TrapBackendKind;
  /** Strictly increasing per engine; name it in `release` (enforce mode). */
  readonly seq: bigint;
  /** The protected object's tag, or null (protection events, a watch removed meanwhile). */
  readonly tag: string | null;
  readonly alias: TrapAlias | null;
  /** First changed byte: virtual for gdbstub, guest-physical for uffd. */
  readonly address: bigint;
  readonly phys: bigint | null;
  /** Offset of `address` inside the protected object (0 for protection events). */
  readonly offset: number;
  /** What the mechanism reported: the watchpoint's address or the faulting address. */
  readonly hitAddress: bigint;
  readonly length: number;
  readonly oldBytes: Buffer;
  readonly newBytes: Buffer;
  /** Instruction after the store (gdbstub only). */
  readonly rip: bigint | null;
  readonly cr3: bigint | null;
  readonly vcpu: number | null;
  /** process.hrtime.bigint() clock: when the stop or fault was seen, and when it reached JavaScript. */
  readonly stopNs: bigint;
  /** When the vCPU was let go (null while held, or for protection events). */
  readonly resumeNs: bigint | null;
  readonly deliverNs: bigint;
  /** Several writes folded into one diff (uffd re-protect window). */
  readonly merged: boolean;
  /** The vCPU waits for `release(seq)`. */
  readonly held: boolean;
  readonly detail: string;
}

export interface TrapCounters {
  readonly stops: number;
  readonly resumes: number;
  readonly queued: number;
  readonly delivered: number;
  readonly backpressureWaits: number;
  readonly held: number;
  readonly protocolErrors: number;
  readonly unmatchedStops: number;
  readonly watchdogReleases: number;
  readonly rearms: number;
  readonly watches: number;
  /** QEMU watchpoints installed (gdbstub; touching ranges in a page share one) or pages protected (uffd). */
  readonly armed: number;
  readonly queueDepth: number;
}
