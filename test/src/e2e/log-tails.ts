import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Every `*.log` file under `dir`, however deep. */
function logFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = statSync(path, { throwIfNoEntry: false });
    if (st?.isDirectory()) out.push(...logFiles(path));
    else if (st?.isFile() && name.endsWith('.log')) out.push(path);
  }
  return out;
}

/**
 * The last lines of every log a failed end-to-end run left behind, for the test output: the run
 * directory is removed afterwards, and a failure on a CI machine is only as good as what it printed.
 */
export function logTails(dir: string, lines = 60): string {
  const parts: string[] = [];
  for (const path of logFiles(dir)) {
    const text = readFileSync(path, 'utf8').split('\n');
    parts.push(`----- ${relative(dir, path)} (last ${lines} lines) -----`, ...text.slice(-lines - 1));
  }
  return parts.join('\n');
}
