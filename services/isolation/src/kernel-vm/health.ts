import { type FSWatcher, watch } from 'node:fs';
import net from 'node:net';
import { dirname } from 'node:path';
import { QmpClient, queryStatus } from '@vmi/qmp';

/** The slowest re-check while nothing happens in the socket's directory. */
const FALLBACK_POLL_MS = 50;

export type HealthProbe = { readonly kind: 'qmp'; readonly socket: string } | { readonly kind: 'unix-connect'; readonly socket: string };

function connects(path: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.createConnection({ path });
    const timer = setTimeout(() => finish(false), timeoutMs);
    function finish(ok: boolean) {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    }
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

/**
 * One health check. `unix-connect`: the component accepts a connection on its socket. `qmp`: the
 * device model greets on its health monitor and answers `query-status` (its own monitor, so the
 * check never takes another client's single QMP slot).
 */
export async function checkHealth(probe: HealthProbe, timeoutMs: number): Promise<boolean> {
  if (!(await connects(probe.socket, timeoutMs))) return false;
  if (probe.kind === 'unix-connect') return true;
  let client: QmpClient | undefined;
  try {
    client = await QmpClient.connect(probe.socket, { connectTimeoutMs: timeoutMs, commandTimeoutMs: timeoutMs });
    await queryStatus(client);
    return true;
  } catch {
    return false;
  } finally {
    await client?.close().catch(() => undefined);
  }
}

/**
 * Sleeps until a timeout or the next change in a directory (inotify), whichever comes first. A
 * change since the previous wait ends the next wait at once, so none is missed between checks.
 */
class DirectoryChanges {
  private changed = false;
  private wakeUp: (() => void) | null = null;
  private readonly watcher: FSWatcher | null;

  constructor(dir: string) {
    let watcher: FSWatcher | null = null;
    try {
      watcher = watch(dir, { persistent: false }, () => {
        this.changed = true;
        this.wakeUp?.();
      });
      watcher.on('error', () => undefined);
    } catch {
      // No directory to watch (yet): the timeouts alone pace the checks.
    }
    this.watcher = watcher;
  }

  /** Resolves true when the directory changed, false when `ms` passed or `signal` aborted. */
  wait(ms: number, signal: AbortSignal): Promise<boolean> {
    if (this.changed || signal.aborted) return Promise.resolve(this.consume());
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.wakeUp = null;
        resolve(this.consume());
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.wakeUp = done;
    });
  }

  private consume(): boolean {
    const changed = this.changed;
    this.changed = false;
    return changed;
  }

  close(): void {
    this.watcher?.close();
  }
}

/**
 * Waits until healthy, the deadline passes or `signal` aborts. A component's socket appears when
 * the program binds it, so a watch on the socket's directory triggers the next check the moment
 * something is created there instead of at the next tick of a poll. After such a change the checks
 * retry quickly (bound is not yet listening); otherwise they slow down to a fallback poll for what
 * a watch cannot see (a QMP monitor that accepts early and greets late).
 */
export async function waitHealthy(probe: HealthProbe, deadline: number, signal: AbortSignal): Promise<boolean> {
  const changes = new DirectoryChanges(dirname(probe.socket));
  try {
    let delay = 1;
    while (!signal.aborted && Date.now() < deadline) {
      if (await checkHealth(probe, Math.max(50, Math.min(2000, deadline - Date.now())))) return true;
      const changed = await changes.wait(Math.min(delay, Math.max(0, deadline - Date.now())), signal);
      delay = changed ? 1 : Math.min(delay * 2, FALLBACK_POLL_MS);
    }
    return false;
  } finally {
    changes.close();
  }
}
