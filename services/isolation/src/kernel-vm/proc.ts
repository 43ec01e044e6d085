import { readFileSync } from 'node:fs';

/**
 * A process's start time in clock ticks since boot (`/proc/PID/stat` field 22), or null when the
 * process is gone. A pid plus its start time names one process even after the pid is reused, which
 * is what lets a restarted service tell its old components from strangers.
 */
export function processStartTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces and parentheses; count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    return Number.isFinite(ticks) ? ticks : null;
  } catch {
    return null;
  }
}

export function isSameProcess(pid: number, startTicks: number): boolean {
  return processStartTicks(pid) === startTicks;
}
