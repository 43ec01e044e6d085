import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const deployDir = new URL('../../../deploy/', import.meta.url).pathname;

/** The development credentials in deploy/nats/dev.env, as an environment. */
export function devNatsEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(join(deployDir, 'nats/dev.env'), 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m?.[1] && m[2] !== undefined) env[m[1]] = m[2];
  }
  return env;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export interface PrivateNats {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * Starts a private nats-server with the deploy configuration (per-service users and permissions)
 * on free ports, with its own JetStream directory; stop() kills it and removes the directory.
 */
export async function startNatsWithDeployConfig(): Promise<PrivateNats> {
  const port = await freePort();
  const httpPort = await freePort();
  const store = mkdtempSync(join(tmpdir(), 'vmi-nats-'));
  const child: ChildProcess = spawn(
    'nats-server',
    ['-c', join(deployDir, 'nats/nats.conf'), '-a', '127.0.0.1', '-p', String(port), '-m', String(httpPort)],
    { env: { ...process.env, ...devNatsEnv(), NATS_STORE_DIR: store }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nats-server exited: ${stderr}`);
    if (stderr.includes('Server is ready')) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`nats-server did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(store, { recursive: true, force: true });
    },
  };
}
