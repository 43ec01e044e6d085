/** @vmi/scanner: guarded copy-and-check of trapped guest data; publishes verdicts and findings. */
export { type Scanner, type StartScannerOptions, startScanner } from './app.js';
export { type CheckResult, checkRegion } from './checks.js';
export { ScannerConfig } from './config.js';
export { stateFindingId, trapFindingId } from './finding.js';
export type { GuardedBytes, GuestReader } from './guest-reader.js';
