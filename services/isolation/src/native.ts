import { execFile } from 'node:child_process';
import { access, constants, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { IsolationErrors, VmiError } from '@vmi/contracts';

const run = promisify(execFile);

/** The helper programs' sources, beside `src/` (and `dist/`) in this package. */
export const NATIVE_SOURCE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'native');
export const NATIVE_BUILD_DIR = join(NATIVE_SOURCE_DIR, 'build');

export const NATIVE_PROGRAMS = ['sandbox-exec', 'probe', 'ram-reader', 'input-proxy', 'log-shipper'] as const;
export type NativeProgram = (typeof NATIVE_PROGRAMS)[number];

export function nativeProgram(name: NativeProgram, dir: string = NATIVE_BUILD_DIR): string {
  return join(dir, name);
}

let building: Promise<string> | undefined;

/**
 * Builds the helper programs (make: a no-op when they are current) and checks each is executable.
 * Needs a C compiler and libseccomp's headers (`libseccomp-dev`).
 */
export function buildNative(): Promise<string> {
  building ??= (async () => {
    try {
      await run('make', ['-s', '-C', NATIVE_SOURCE_DIR], { timeout: 120_000 });
      for (const name of NATIVE_PROGRAMS) await access(nativeProgram(name), constants.X_OK);
      await assertSearchableByOthers(NATIVE_BUILD_DIR);
    } catch (cause) {
      if (cause instanceof VmiError) {
        building = undefined;
        throw cause;
      }
      building = undefined;
      const stderr = (cause as { stderr?: string }).stderr ?? '';
      throw new VmiError(IsolationErrors.NATIVE, stderr.slice(0, 500) || String(cause), { cause });
    }
    return NATIVE_BUILD_DIR;
  })();
  return building;
}

/**
 * Components run under their own uids, so the programs they exec must be reachable by "others":
 * a checkout under a 0700 directory would make every component fail at exec, seen only as a
 * crash loop. Say so up front instead.
 */
async function assertSearchableByOthers(dir: string): Promise<void> {
  for (let d = resolve(dir); ; d = dirname(d)) {
    const mode = (await stat(d)).mode;
    if ((mode & 0o001) === 0) {
      throw new VmiError(
        IsolationErrors.NATIVE,
        `sandboxed components cannot reach ${dir}: ${d} is not searchable by other users (mode ${(mode & 0o777).toString(8)})`,
      );
    }
    if (d === dirname(d)) return;
  }
}

/** The syscall names libseccomp does not know (empty when every name resolves). */
export async function unknownSyscalls(names: readonly string[], dir: string = NATIVE_BUILD_DIR): Promise<string[]> {
  if (names.length === 0) return [];
  try {
    await run(nativeProgram('sandbox-exec', dir), ['--check-syscalls', names.join(',')]);
    return [];
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string };
    if (e.code === 1 && typeof e.stdout === 'string') return e.stdout.split('\n').filter((s) => s.length > 0);
    throw new VmiError(IsolationErrors.NATIVE, 'sandbox-exec --check-syscalls failed', { cause: err });
  }
}
