import type { NativeFeatures } from './native.js';
import { native } from './native.js';
import { callNative } from './native-errors.js';

export type Features = NativeFeatures;

let cached: Features | undefined;

/**
 * What this CPU and kernel offer: RTM for the guarded copy (CPUID and the kernel's `rtm` flag),
 * userfaultfd and its features, PAGEMAP_SCAN, kernel version, CPU model. Probed once per process.
 */
export function probeFeatures(): Features {
  cached ??= callNative(() => native().probeFeatures());
  return cached;
}
