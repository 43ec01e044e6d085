import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

// This file sits at the top of src/ (and of dist/ once compiled), so the package root is one up.
const here = dirname(fileURLToPath(import.meta.url));

export const packageRoot = resolve(here, '..');
/** C sources of the guest programs and the kernel module, and the guest's /init. */
export const guestSourceDir = join(packageRoot, 'guest-src');
/** The builder's own TypeScript sources: part of the cache key, so a changed builder rebuilds. */
export const builderSourceDir = join(packageRoot, 'src', 'image');
export const repoRoot = resolve(packageRoot, '..', '..');

/** Where built images live: `<repo>/.cache/guest` unless `VMI_GUEST_CACHE_DIR` says otherwise. */
export function defaultCacheRoot(): string {
  return process.env.VMI_GUEST_CACHE_DIR ?? join(repoRoot, '.cache', 'guest');
}
