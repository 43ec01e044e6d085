import { execFile } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import { dirname, join } from 'node:path';
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
    } catch (cause) {
      building = undefined;
      const stderr = (cause as { stderr?: string }).stderr ?? '';
      throw new VmiError(IsolationErrors.NATIVE, stderr.slice(0, 500) || String(cause), { cause });
    }
    return NATIVE_BUILD_DIR;
  })();
  return building;
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
