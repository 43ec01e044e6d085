import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { GuestErrors, VmiError } from '@vmi/contracts';

export interface GuestKernel {
  /** Release string, e.g. `6.1.0-56-cloud-amd64`. */
  readonly version: string;
  readonly imagePath: string;
  readonly modulesDir: string;
}

const KERNEL_FILE = /^vmlinuz-(\d+\.\d+\.\d+-\d+-cloud-amd64)$/;

function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * The Debian cloud kernel the guest boots: `VMI_GUEST_KERNEL` when set, else the newest installed
 * `linux-image-*-cloud-amd64`.
 */
export function findGuestKernel(bootDir = '/boot', modulesRoot = '/lib/modules'): GuestKernel {
  const wanted = process.env.VMI_GUEST_KERNEL;
  const versions = readdirSync(bootDir)
    .map((f) => KERNEL_FILE.exec(f)?.[1])
    .filter((v): v is string => v !== undefined && existsSync(join(modulesRoot, v)))
    .sort(compareVersions);
  const version = wanted ?? versions.at(-1);
  if (version === undefined || !versions.includes(version)) {
    throw new VmiError(
      GuestErrors.IMAGE_BUILD,
      wanted ? `kernel ${wanted} is not installed` : 'no linux-image-*-cloud-amd64 kernel installed',
      {
        details: { installed: versions },
      },
    );
  }
  return { version, imagePath: join(bootDir, `vmlinuz-${version}`), modulesDir: join(modulesRoot, version) };
}
