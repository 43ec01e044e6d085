import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';

/**
 * Every QEMU this process started, so none outlives it: on exit, and on the usual termination
 * signals, each is killed and its RAM file and run directory removed. (QEMU also runs under a
 * parent-death signal, which covers the case where this process is killed outright.)
 */
interface Entry {
  readonly child: ChildProcess;
  readonly paths: readonly string[];
}

const live = new Set<Entry>();
let hooked = false;
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function killEntry(entry: Entry): void {
  if (entry.child.exitCode === null && entry.child.signalCode === null) {
    try {
      entry.child.kill('SIGKILL');
    } catch {
      // Already gone.
    }
  }
  for (const path of entry.paths) rmSync(path, { recursive: true, force: true });
  live.delete(entry);
}

/** Kills every registered QEMU now and removes its files. Synchronous: safe in an exit handler. */
export function killAllGuests(): number {
  const count = live.size;
  for (const entry of [...live]) killEntry(entry);
  return count;
}

function onSignal(signal: NodeJS.Signals): void {
  killAllGuests();
  // With no other handler the process must still die of the signal, as it would have without us.
  if (process.listenerCount(signal) === 1) {
    process.off(signal, onSignal);
    process.kill(process.pid, signal);
  }
}

function hook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', killAllGuests);
  for (const signal of SIGNALS) process.on(signal, onSignal);
}

/** Registers a QEMU; returns the function that unregisters it once it has been shut down cleanly. */
export function registerGuest(child: ChildProcess, paths: readonly string[]): () => void {
  hook();
  const entry: Entry = { child, paths };
  live.add(entry);
  return () => {
    live.delete(entry);
  };
}

export function liveGuestCount(): number {
  return live.size;
}
