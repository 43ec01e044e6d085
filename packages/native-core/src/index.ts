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
  selectGuards,
} from './guarded-copy.js';
export { GuestMemory, type GuestMemoryOptions, type LayoutRegion, type Translation, type WalkOptions } from './guest-memory.js';
export { sha256 } from './hash.js';
export { MAX_SYNC_BYTES, MAX_TRANSFER_BYTES, type PhysRange } from './inputs.js';
export { type Features, probeFeatures } from './probe.js';
