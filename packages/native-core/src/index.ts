/** @vmi/native-core: guest memory, page walks, hashing, guarded copy, feature probe and the trap engine. */
export { type GenerationState, GenerationTable, generationTablePath } from './generation-table.js';
export {
  type CopyGuard,
  type CopyGuardRequest,
  type GuardAttempt,
  type GuardAvailability,
  type GuardedCopyOptions,
  type GuardedCopyResult,
  guardedCopy,
  type PauseControl,
  SYNC_COPY_MAX_BYTES,
  selectGuards,
} from './guarded-copy.js';
export { GuestMemory, type GuestMemoryOptions, type LayoutRegion, type Translation, type WalkOptions } from './guest-memory.js';
export { sha256 } from './hash.js';
export { MAX_SYNC_BYTES, MAX_TRANSFER_BYTES, type PhysRange } from './inputs.js';
export { type Features, probeFeatures } from './probe.js';
export { aliasesFor } from './traps/aliases.js';
export { DEFAULT_CPU_ENTRY_AREA_IDT, DEFAULT_PAGE_OFFSET_BASE, MAX_OBJECT_BYTES, MAX_PHYSICAL_OBJECT_BYTES } from './traps/options.js';
export { openTrapEngine, TrapEngine } from './traps/trap-engine.js';
export type {
  GdbstubOptions,
  KernelLayout,
  ProtectedObject,
  ProtectTarget,
  RamRange,
  TrapAlias,
  TrapBackendKind,
  TrapCounters,
  TrapEngineOptions,
  TrapEvent,
  TrapEventKind,
  TrapMode,
  UffdOptions,
  WatchedRange,
} from './traps/types.js';
export { uffdShimEnv, uffdShimPath } from './traps/uffd-shim.js';
