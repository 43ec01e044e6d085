import { randomBytes } from 'node:crypto';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GuestErrors, VmiError } from '@vmi/contracts';
import { builderSourceDir, defaultCacheRoot, guestSourceDir } from '../paths.js';
import { loadGuestProfile } from '../profile/guest-profile.js';
import { withBuildLock } from './build-lock.js';
import { compileModule, compilePrograms } from './compile-guest.js';
import { hashBuildInputs } from './content-hash.js';
import { ensureDebianPackages } from './debian-packages.js';
import type { GuestImage } from './guest-image.js';
import { findGuestKernel, type GuestKernel } from './guest-kernel.js';
import { buildInitramfs, moduleLoadOrder } from './initramfs.js';
import { recordProfile } from './record-profile.js';

export interface EnsureGuestImageOptions {
  /** Defaults to `<repo>/.cache/guest` (or `VMI_GUEST_CACHE_DIR`). */
  readonly cacheRoot?: string;
  /** Progress and tool output. */
  readonly log?: (text: string) => void;
}

const BUSYBOX = '/bin/busybox';
const QEMU_PATH = '/usr/bin/qemu-system-x86_64';
const BASE_PACKAGES = [
  'qemu-system-x86',
  'linux-image-cloud-amd64',
  'busybox-static',
  'cpio',
  'gcc',
  'make',
  'libc6-dev',
  'binutils',
  'gzip',
];
const MANIFEST_FORMAT = 'vmi-guest-image/1';
const FILES = { kernel: 'vmlinuz', initrd: 'initramfs.cpio.gz', profile: 'profile.json', module: 'vmi_attack.ko' } as const;

const inFlight = new Map<string, Promise<GuestImage>>();

/**
 * Returns the guest image, building it first when the cache has none for the current inputs:
 * Debian packages, static guest programs, the attack module, the initramfs, and a symbol profile
 * recorded by booting the result once. Builds go to a private directory that is renamed into
 * place, under a lock file, so concurrent builders never see or leave a half-built image.
 */
export function ensureGuestImage(options: EnsureGuestImageOptions = {}): Promise<GuestImage> {
  const cacheRoot = options.cacheRoot ?? defaultCacheRoot();
  let pending = inFlight.get(cacheRoot);
  if (!pending) {
    // Shared only while in flight: a later call re-checks the inputs, which may have changed.
    pending = ensureUncached(cacheRoot, options.log ?? (() => {})).finally(() => inFlight.delete(cacheRoot));
    inFlight.set(cacheRoot, pending);
  }
  return pending;
}

async function loadImage(dir: string): Promise<GuestImage | undefined> {
  const manifestPath = join(dir, 'manifest.json');
  if (!existsSync(manifestPath)) return undefined;
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as { format?: string; hash?: string; kernelVersion?: string };
  if (manifest.format !== MANIFEST_FORMAT || typeof manifest.hash !== 'string' || typeof manifest.kernelVersion !== 'string') {
    throw new VmiError(GuestErrors.IMAGE_BUILD, `unrecognised image manifest in ${dir}`);
  }
  const profilePath = join(dir, FILES.profile);
  return {
    hash: manifest.hash,
    dir,
    kernelVersion: manifest.kernelVersion,
    kernelPath: join(dir, FILES.kernel),
    initrdPath: join(dir, FILES.initrd),
    profilePath,
    profile: await loadGuestProfile(profilePath),
    modulePath: join(dir, FILES.module),
  };
}

function inputsHash(kernel: GuestKernel): string {
  return hashBuildInputs({
    sourceDirs: [guestSourceDir, builderSourceDir],
    files: [kernel.imagePath, BUSYBOX],
    values: { kernel: kernel.version, manifest: MANIFEST_FORMAT },
  });
}

/** The cached image for the installed kernel, without touching apt, when everything is already there. */
async function findCached(cacheRoot: string): Promise<GuestImage | undefined> {
  if (!existsSync(BUSYBOX) || !existsSync(QEMU_PATH)) return undefined;
  let kernel: GuestKernel;
  try {
    kernel = findGuestKernel();
  } catch {
    return undefined;
  }
  return loadImage(join(cacheRoot, inputsHash(kernel)));
}

async function ensureUncached(cacheRoot: string, log: (text: string) => void): Promise<GuestImage> {
  const cached = await findCached(cacheRoot);
  if (cached) return cached;
  await ensureDebianPackages(BASE_PACKAGES, log);
  const kernel = findGuestKernel();
  await ensureDebianPackages([`linux-headers-${kernel.version}`], log);
  const hash = inputsHash(kernel);
  mkdirSync(cacheRoot, { recursive: true });
  const finalDir = join(cacheRoot, hash);
  return withBuildLock(
    join(cacheRoot, `${hash}.lock`),
    () => loadImage(finalDir),
    async () => {
      const workDir = join(cacheRoot, `.build-${hash}-${process.pid}-${randomBytes(3).toString('hex')}`);
      const buildLog = join(workDir, 'build.log');
      mkdirSync(workDir, { recursive: true });
      const logBoth = (text: string): void => {
        appendFileSync(buildLog, text);
        log(text);
      };
      try {
        await buildInto(workDir, hash, kernel, logBoth);
        try {
          renameSync(workDir, finalDir);
        } catch (error) {
          // Someone published the same inputs first (a builder that did not use the lock): theirs is as good.
          if (!['EEXIST', 'ENOTEMPTY'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
          rmSync(workDir, { recursive: true, force: true });
        }
      } catch (error) {
        if (existsSync(buildLog)) copyFileSync(buildLog, join(cacheRoot, `${hash}.failed.log`));
        rmSync(workDir, { recursive: true, force: true });
        throw error instanceof VmiError ? error : new VmiError(GuestErrors.IMAGE_BUILD, String(error), { cause: error });
      }
      const image = await loadImage(finalDir);
      if (!image) throw new VmiError(GuestErrors.IMAGE_BUILD, `image ${hash} vanished after it was built`);
      return image;
    },
  );
}

async function buildInto(workDir: string, hash: string, kernel: GuestKernel, log: (text: string) => void): Promise<void> {
  log(`building guest image ${hash} for ${kernel.version}\n`);
  const programs = await compilePrograms(join(guestSourceDir, 'programs'), join(workDir, 'programs'), log);
  const module = await compileModule(join(guestSourceDir, 'module'), join(workDir, 'module-build'), kernel.version, log);
  copyFileSync(module, join(workDir, FILES.module));
  const inKernelDir = (paths: string[]): string[] => paths.map((p) => join(kernel.modulesDir, p));
  await buildInitramfs(
    join(workDir, 'root'),
    join(workDir, FILES.initrd),
    {
      busyboxPath: BUSYBOX,
      initPath: join(guestSourceDir, 'rootfs', 'init'),
      programs,
      modules: [...inKernelDir(moduleLoadOrder(kernel.modulesDir, ['evdev'])), module],
      virtioKeyboardModules: inKernelDir(moduleLoadOrder(kernel.modulesDir, ['virtio_pci', 'virtio_input'])),
    },
    log,
  );
  copyFileSync(kernel.imagePath, join(workDir, FILES.kernel));
  const profile = await recordProfile({ kernelPath: join(workDir, FILES.kernel), initrdPath: join(workDir, FILES.initrd) }, workDir, log);
  if (profile.kernelVersion !== kernel.version) {
    throw new VmiError(GuestErrors.IMAGE_BUILD, `guest booted ${profile.kernelVersion}, expected ${kernel.version}`);
  }
  writeFileSync(join(workDir, FILES.profile), JSON.stringify(profile));
  for (const scratch of ['root', 'module-build', 'programs', 'kallsyms.gz'])
    rmSync(join(workDir, scratch), { recursive: true, force: true });
  writeFileSync(
    join(workDir, 'manifest.json'),
    `${JSON.stringify({ format: MANIFEST_FORMAT, hash, kernelVersion: kernel.version, builtAt: new Date().toISOString(), files: FILES }, null, 2)}\n`,
  );
}
