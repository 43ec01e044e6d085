/** @vmi/bench: the shared bench harness (every `pnpm bench:<name>` uses it). */
export * from './harness.js';
export * from './stats.js';
