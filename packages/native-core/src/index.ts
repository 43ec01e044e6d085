/** @vmi/native-core: guest memory, page walks, hashing, guarded copy, feature probe and the trap engine. */
export type { NativeHandle } from './native.js';
