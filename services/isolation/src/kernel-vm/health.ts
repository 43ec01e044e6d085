import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { QmpClient, queryStatus } from '@vmi/qmp';

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

/** Polls until healthy (tight at first: readiness is on the ensure path) or until the deadline or abort. */
export async function waitHealthy(probe: HealthProbe, deadline: number, signal: AbortSignal): Promise<boolean> {
  let delay = 2;
  while (!signal.aborted && Date.now() < deadline) {
    if (await checkHealth(probe, Math.max(50, Math.min(2000, deadline - Date.now())))) return true;
    await sleep(delay);
    delay = Math.min(delay * 2, 50);
  }
  return false;
}
