import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deployDir } from './paths.js';
import { freePort, portOpen } from './ports.js';

/** The service whose NATS user a credential belongs to, as in deploy/nats/nats.conf. */
export type NatsUser = 'host-agent' | 'scanner' | 'audit' | 'input-gateway' | 'isolation' | 'soc' | 'admin';

/** Credentials of deploy/nats/dev.env (local use only), as an environment. */
export function devNatsEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of readFileSync(join(deployDir, 'nats/dev.env'), 'utf8').split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m?.[1] && m[2] !== undefined) env[m[1]] = m[2];
  }
  return env;
}

/** NATS_USER / NATS_PASS for one service's own user. */
export function natsCredentials(user: NatsUser): { NATS_USER: string; NATS_PASS: string } {
  const pass = devNatsEnv()[`NATS_PASS_${user.toUpperCase().replace(/-/g, '_')}`];
  if (pass === undefined) throw new Error(`deploy/nats/dev.env has no password for ${user}`);
  return { NATS_USER: user, NATS_PASS: pass };
}

export interface ProjectNats {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

export interface StartNatsOptions {
  /** JetStream directory; a fresh temporary one (removed on stop) when omitted. */
  storeDir?: string;
  /** Port to listen on; 4222 when free, else a free one. */
  port?: number;
  /** Where the server's log goes; dropped when omitted. */
  logFile?: string;
}

/**
 * Starts nats-server with the deploy configuration (JetStream, one user per service, each allowed
 * only its subjects), the same file the docker-compose stack uses, and waits until it is ready.
 */
export async function startProjectNats(options: StartNatsOptions = {}): Promise<ProjectNats> {
  const port = options.port ?? ((await portOpen(4222)) ? await freePort() : 4222);
  const httpPort = await freePort();
  const ownStore = options.storeDir === undefined;
  const store = options.storeDir ?? mkdtempSync(join(tmpdir(), 'vmi-nats-'));
  mkdirSync(store, { recursive: true });
  const args = ['-c', join(deployDir, 'nats/nats.conf'), '-a', '127.0.0.1', '-p', String(port), '-m', String(httpPort)];
  if (options.logFile !== undefined) args.push('-l', options.logFile);
  const child: ChildProcess = spawn('nats-server', args, {
    env: { ...process.env, ...devNatsEnv(), NATS_STORE_DIR: store },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const deadline = Date.now() + 15_000;
  while (!(await portOpen(port))) {
    if (child.exitCode !== null) throw new Error(`nats-server exited: ${stderr}`);
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
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      if (ownStore) rmSync(store, { recursive: true, force: true });
    },
  };
}
