/**
 * The QEMU preload shim of the userfaultfd backend: where it is built, and the environment that
 * makes QEMU serve its guest-RAM userfaultfd on `socketPath` (the shim listens there; each trap
 * engine that connects gets a fresh descriptor, so a restarted engine protects the guest again).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeErrors, VmiError } from '@vmi/contracts';

/** Absolute path of the shim library, built beside the addon. */
export function uffdShimPath(): string {
  const override = process.env.VMI_NATIVE_ADDON;
  const dir =
    override !== undefined && override !== '' ? dirname(override) : fileURLToPath(new URL('../../build/Release/', import.meta.url));
  const path = join(dir, 'vmi_uffd_shim.so');
  if (!existsSync(path)) {
    throw new VmiError(NativeErrors.ADDON_LOAD, 'the userfaultfd shim is not built; run `pnpm -F @vmi/native-core build:native`', {
      details: { path },
    });
  }
  return path;
}

/** Environment for QEMU: preload the shim and name the socket it serves descriptors on. */
export function uffdShimEnv(socketPath: string, options: { ramPath?: string } = {}): Record<string, string> {
  if (typeof socketPath !== 'string' || socketPath.length === 0 || Buffer.byteLength(socketPath) > 107) {
    throw new VmiError(NativeErrors.BAD_ARGUMENT, 'socketPath must be a UNIX socket path of at most 107 bytes', { path: '/socketPath' });
  }
  return {
    LD_PRELOAD: uffdShimPath(),
    VMI_UFFD_SOCKET: socketPath,
    ...(options.ramPath === undefined ? {} : { VMI_UFFD_RAM_PATH: options.ramPath }),
  };
}
