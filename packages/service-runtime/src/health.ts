import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A readiness check: true (or resolving true) when the part it checks can do its job. */
export type ReadinessCheck = () => boolean | Promise<boolean>;

export interface HealthServerOptions {
  /** 0 binds an ephemeral port; see {@link HealthServer.port}. */
  port: number;
  host?: string;
  checks?: Record<string, ReadinessCheck>;
  /** Milliseconds a check may take before it counts as failed. */
  checkTimeoutMs?: number;
}

export interface HealthServer {
  readonly port: number;
  readonly url: string;
  /** Adds (or replaces) a readiness check. */
  addCheck(name: string, check: ReadinessCheck): void;
  /** Reports not-ready from now on, whatever the checks say (set at the start of shutdown). */
  setShuttingDown(): void;
  /** Runs every check: what `/readyz` answers. */
  readiness(): Promise<{ ready: boolean; checks: Record<string, boolean> }>;
  close(): Promise<void>;
}

async function runCheck(check: ReadinessCheck, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      Promise.resolve().then(check),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `GET /healthz`: liveness (200 while the process serves requests). `GET /readyz`: 200 when every
 * readiness check passes, 503 otherwise or while shutting down, with each check's result.
 */
export async function startHealthServer(options: HealthServerOptions): Promise<HealthServer> {
  const checks = new Map<string, ReadinessCheck>(Object.entries(options.checks ?? {}));
  const timeoutMs = options.checkTimeoutMs ?? 2000;
  let shuttingDown = false;

  const readiness = async () => {
    const results: Record<string, boolean> = {};
    await Promise.all(
      [...checks].map(async ([name, check]) => {
        results[name] = await runCheck(check, timeoutMs);
      }),
    );
    return { ready: !shuttingDown && Object.values(results).every(Boolean), checks: results };
  };

  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, { error: 'method not allowed' });
    if (path === '/healthz') return reply(200, { status: 'ok' });
    if (path === '/readyz') {
      readiness().then(
        (r) => reply(r.ready ? 200 : 503, { status: r.ready ? 'ready' : shuttingDown ? 'shutting-down' : 'not-ready', checks: r.checks }),
        () => reply(503, { status: 'not-ready', checks: {} }),
      );
      return;
    }
    reply(404, { error: 'not found' });
  });
  server.keepAliveTimeout = 5000;

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;

  return {
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    addCheck: (name, check) => {
      checks.set(name, check);
    },
    setShuttingDown: () => {
      shuttingDown = true;
    },
    readiness,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
