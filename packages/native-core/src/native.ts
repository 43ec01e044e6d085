/**
 * Every function of the native addon and every type that crosses the boundary. Only the facade
 * imports this file: it validates inputs and resolves defaults, so the native side receives resolved
 * values only (bigint addresses, plain numbers for lengths, `null` for absent values) and returns
 * fully populated objects. Handles are opaque: they can only be passed back.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { NativeErrors, VmiError } from '@vmi/contracts';

declare const handleKind: unique symbol;
/** An opaque native object (a type-tagged external). Using a closed one fails with VMI_ERR_NATIVE_CLOSED. */
export type NativeHandle<Kind extends string> = { readonly [handleKind]: Kind };

export type NativeAddon = CoreAddon & TrapsAddon;

/** Where the addon is looked for: an explicit override (e.g. an instrumented build), then the normal build. */
function addonPath(): string {
  const override = process.env.VMI_NATIVE_ADDON;
  if (override !== undefined && override !== '') return override;
  return new URL('../build/Release/vmi_native.node', import.meta.url).pathname;
}

let loaded: NativeAddon | undefined;

/** Loads the addon on first use, so importing the package for its types never needs a build. */
export function native(): NativeAddon {
  if (loaded !== undefined) return loaded;
  const path = addonPath();
  if (!existsSync(path)) {
    throw new VmiError(NativeErrors.ADDON_LOAD, 'not built; run `pnpm -F @vmi/native-core build:native`', { details: { path } });
  }
  try {
    loaded = createRequire(import.meta.url)(path) as NativeAddon;
  } catch (cause) {
    throw new VmiError(NativeErrors.ADDON_LOAD, cause instanceof Error ? cause.message : String(cause), { cause, details: { path } });
  }
  return loaded;
}

// --- guest memory, hashing, probe, guarded copy, generation table (native/{memory,hash,probe,copy}) ---

export type GuestMemoryHandle = NativeHandle<'guest-memory'>;
export type GenerationTableHandle = NativeHandle<'generation-table'>;

export interface NativeLayoutRegion {
  guestPhys: bigint;
  fileOffset: bigint;
  length: bigint;
}

export interface NativeMemoryInfo {
  path: string;
  fileSize: bigint;
  writable: boolean;
  /** Sorted by guestPhys; a single identity region when none was given. */
  layout: NativeLayoutRegion[];
}

export interface NativeTranslation {
  phys: bigint;
  pageSize: number;
  writable: boolean;
  user: boolean;
  noExecute: boolean;
}

export interface NativePhysRange {
  phys: bigint;
  length: number;
}

export interface NativeFeatures {
  cpu: { vendor: string; model: string; cpuidRtm: boolean; kernelRtmFlag: boolean; rtm: boolean };
  kernel: { release: string; version: [number, number, number]; pagemapScan: boolean };
  userfaultfd: {
    available: boolean;
    via: 'dev' | 'syscall' | null;
    error: string | null;
    api: bigint;
    featureBits: bigint;
    ioctls: bigint;
    features: string[];
  };
}

export type NativeCopyGuard = 'rtm' | 'trap' | 'plain';

/** What the copy functions return: [completed, guard, attempts, aborts, lastAbort]. */
export type NativeCopyResult = [completed: boolean, guard: NativeCopyGuard, attempts: number, aborts: number, lastAbort: string | null];

/** The same as an object (the facade builds it from NativeCopyResult). */
export interface NativeCopyOutcome {
  /** false: every attempt was disturbed and the buffers hold no valid copy. */
  completed: boolean;
  guard: NativeCopyGuard;
  attempts: number;
  aborts: number;
  lastAbort: string | null;
}

export interface NativeGenerationSlot {
  index: number;
  physStart: bigint;
  length: bigint;
  gen: bigint;
}

export interface NativeGenerationState {
  slotCount: number;
  globalGen: bigint;
  /** Slots in use (length > 0). */
  slots: NativeGenerationSlot[];
}

export interface CoreAddon {
  memoryOpen(path: string, writable: boolean, layout: NativeLayoutRegion[] | null): GuestMemoryHandle;
  memoryClose(memory: GuestMemoryHandle): void;
  memoryInfo(memory: GuestMemoryHandle): NativeMemoryInfo;
  memoryReadPhys(memory: GuestMemoryHandle, phys: bigint, length: number): Buffer;
  memoryReadPhysAsync(memory: GuestMemoryHandle, phys: bigint, length: number): Promise<Buffer>;
  memoryWritePhys(memory: GuestMemoryHandle, phys: bigint, data: Buffer): void;
  memoryTranslate(memory: GuestMemoryHandle, cr3: bigint, va: bigint, levels: 4 | 5): NativeTranslation;
  memoryReadVirt(memory: GuestMemoryHandle, cr3: bigint, va: bigint, length: number, levels: 4 | 5): Buffer;
  memoryReadVirtAsync(memory: GuestMemoryHandle, cr3: bigint, va: bigint, length: number, levels: 4 | 5): Promise<Buffer>;
  /** One SHA-256 over the concatenation of the ranges, read straight from the mapping. */
  memoryHashPhys(memory: GuestMemoryHandle, ranges: NativePhysRange[]): Promise<Buffer>;
  /**
   * Indices of the ranges whose bytes differ from their expected buffer (one per range, of the
   * range's length), compared straight from the mapping.
   */
  memoryDiffPhys(memory: GuestMemoryHandle, ranges: NativePhysRange[], expected: Buffer[]): Promise<number[]>;
  hashSha256(data: Buffer): Promise<Buffer>;
  hashSha256Sync(data: Buffer): Buffer;
  probeFeatures(): NativeFeatures;
  /**
   * Fills `buffers` (one per range, same length) on a worker thread. An exhausted retry budget
   * resolves with completed=false. `priorAttempts` (made already, e.g. by copyGuardedSync) continues
   * the back-off schedule: the first attempt here waits as a retry would.
   */
  copyGuarded(
    memory: GuestMemoryHandle,
    ranges: NativePhysRange[],
    buffers: Buffer[],
    guard: NativeCopyGuard,
    table: GenerationTableHandle | null,
    maxAttempts: number,
    retryDelayUs: number,
    priorAttempts: number,
  ): Promise<NativeCopyResult>;
  /**
   * One attempt of the same copy on the calling thread, at most 1 MiB in all (BAD_ARGUMENT beyond):
   * bounded work with no sleep; a disturbed attempt returns completed=false.
   */
  copyGuardedSync(
    memory: GuestMemoryHandle,
    ranges: NativePhysRange[],
    buffers: Buffer[],
    guard: NativeCopyGuard,
    table: GenerationTableHandle | null,
  ): NativeCopyResult;
  genCreate(path: string, slots: number): GenerationTableHandle;
  genOpen(path: string, writable: boolean): GenerationTableHandle;
  genClose(table: GenerationTableHandle): void;
  genSetSlot(table: GenerationTableHandle, slot: number, physStart: bigint, length: bigint): void;
  /** Returns how many slots the write overlapped. */
  genRecordWrite(table: GenerationTableHandle, phys: bigint, length: bigint): number;
  genRead(table: GenerationTableHandle): NativeGenerationState;
}

// --- trap engine (native/traps) -----------------------------------------------------------------

export type TrapEngineHandle = NativeHandle<'trap-engine'>;

/** Resolved trap engine configuration; empty strings and zeros mean "not used by this backend". */
export interface NativeTrapConfig {
  backend: 'gdbstub' | 'uffd';
  mode: 'monitor' | 'enforce';
  host: string;
  port: number;
  /** UNIX socket path of the gdbstub; empty for TCP. */
  unixPath: string;
  connectTimeoutMs: number;
  replyTimeoutMs: number;
  ramPath: string;
  ramLayout: { phys: bigint; fileOffset: bigint; length: bigint }[];
  uffdSocket: string;
  reprotectWindowUs: number;
  watchdogMs: number;
  queueCapacity: number;
  batchMax: number;
  generationPath: string;
  generationSlots: number;
}

export interface NativeTrapEvent {
  version: number;
  kind: 'write' | 'protection-lost' | 'protection-restored';
  backend: 'gdbstub' | 'uffd';
  seq: bigint;
  watchId: number;
  address: bigint;
  phys: bigint | null;
  hitAddress: bigint;
  oldBytes: Buffer;
  newBytes: Buffer;
  rip: bigint | null;
  cr3: bigint | null;
  vcpu: number | null;
  stopNs: bigint;
  resumeNs: bigint | null;
  deliverNs: bigint;
  merged: boolean;
  held: boolean;
  detail: string;
}

export interface NativeTrapCounters {
  stops: number;
  resumes: number;
  queued: number;
  delivered: number;
  backpressureWaits: number;
  held: number;
  protocolErrors: number;
  unmatchedStops: number;
  watchdogReleases: number;
  rearms: number;
  watches: number;
  armed: number;
  queueDepth: number;
}

export interface NativeRspFrame {
  kind: 'ack' | 'nack' | 'packet' | 'notification';
  /** Run-length expanded body. */
  payload: Buffer;
  /** The body with binary escapes undone, or null when it ends inside an escape. */
  unescaped: Buffer | null;
}

export interface TrapsAddon {
  trapsProbe(config: NativeTrapConfig): { backend: string; available: boolean; detail: string }[];
  trapsOpen(config: NativeTrapConfig, onEvents: (events: NativeTrapEvent[]) => void): Promise<TrapEngineHandle>;
  trapsWatch(engine: TrapEngineHandle, id: number, virt: bigint, phys: bigint, length: number): Promise<void>;
  trapsUnwatch(engine: TrapEngineHandle, id: number): Promise<void>;
  trapsArm(engine: TrapEngineHandle): Promise<void>;
  trapsRelease(engine: TrapEngineHandle, seq: bigint, restore: boolean): Promise<void>;
  /** Resolves with the events that were still queued. */
  trapsClose(engine: TrapEngineHandle): Promise<NativeTrapEvent[]>;
  trapsCounters(engine: TrapEngineHandle): NativeTrapCounters;
  trapsDescribe(engine: TrapEngineHandle): string;
  /** Test entry points of the RSP codec: decoding never throws, malformed input yields errors. */
  rspDecodeForTest(data: Buffer, maxPacket: number, chunk: number): { frames: NativeRspFrame[]; errors: Error[] };
  rspEncodeForTest(body: Buffer): Buffer;
  rspStopReplyForTest(payload: Buffer): {
    kind: 'signal' | 'exited' | 'terminated' | 'output';
    signal: number;
    watchAddress: bigint | null;
    thread: number | null;
  };
}
