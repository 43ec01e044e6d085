import { readFileSync, statSync, unlinkSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { GuestErrors, VmiError } from '@vmi/contracts';

function holderAlive(lockPath: string): boolean {
  let text: string;
  let ageMs: number;
  try {
    text = readFileSync(lockPath, 'utf8');
    ageMs = Date.now() - statSync(lockPath).mtimeMs;
  } catch {
    return false;
  }
  const pid = Number.parseInt(text, 10);
  // A lock file with no pid yet is being written right now, unless it has been like that for long.
  if (!Number.isInteger(pid) || pid <= 0) return ageMs < 10_000;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs `build` while holding an exclusive lock file, unless `existing` finds a finished result
 * first. Concurrent builders in other processes wait for the holder and then take its result; a
 * lock left by a dead process is taken over.
 */
export async function withBuildLock<T>(
  lockPath: string,
  existing: () => Promise<T | undefined>,
  build: () => Promise<T>,
  timeoutMs = 30 * 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await existing();
    if (found !== undefined) return found;
    let handle: Awaited<ReturnType<typeof open>> | undefined;
    try {
      handle = await open(lockPath, 'wx');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (handle) {
      try {
        await handle.writeFile(`${process.pid}\n`);
        await handle.close();
        return (await existing()) ?? (await build());
      } finally {
        try {
          unlinkSync(lockPath);
        } catch {
          // Already removed.
        }
      }
    }
    if (!holderAlive(lockPath)) {
      try {
        unlinkSync(lockPath);
      } catch {
        // Another waiter removed it first.
      }
      continue;
    }
    if (Date.now() > deadline) throw new VmiError(GuestErrors.IMAGE_BUILD, `timed out waiting for the build lock ${lockPath}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
