import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';
import { get } from 'node:http';
import { serviceEntry } from './paths.js';
import { freePort } from './ports.js';

const SETPRIV = '/usr/bin/setpriv';

export interface ServiceProcessOptions {
  /** Directory name under services/. */
  readonly service: string;
  /** Environment on top of this process's own. */
  readonly env: Record<string, string>;
  /** Log file (stdout and stderr, pino JSON lines). */
  readonly logFile: string;
  readonly readyTimeoutMs?: number;
  readonly cwd?: string;
}

/** GET a URL on loopback; resolves with the status, or 0 when nothing answered. */
function httpStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = get(url, { timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => {
      req.destroy();
      resolve(0);
    });
  });
}

/**
 * One platform service as a child process, started from its built entry point, ready when its
 * `/readyz` answers 200, stopped with SIGTERM (it drains) and SIGKILL only after a grace period.
 */
export class ServiceProcess {
  private constructor(
    readonly service: string,
    readonly healthPort: number,
    readonly logFile: string,
    private readonly child: ChildProcess,
  ) {}

  get pid(): number | undefined {
    return this.child.pid;
  }

  get exited(): boolean {
    return this.child.exitCode !== null || this.child.signalCode !== null;
  }

  static async start(options: ServiceProcessOptions): Promise<ServiceProcess> {
    const entry = serviceEntry(options.service);
    if (!existsSync(entry)) throw new Error(`${options.service} is not built (${entry} missing): run pnpm build`);
    const healthPort = await freePort();
    const fd = openSync(options.logFile, 'a');
    // Under setpriv the service gets SIGTERM when this process dies, however it dies, so it drains
    // and stops what it started instead of living on unsupervised.
    const argv = [process.execPath, '--enable-source-maps', entry];
    const [command, ...args] = existsSync(SETPRIV) ? [SETPRIV, '--pdeathsig', 'TERM', '--', ...argv] : argv;
    const child = spawn(command as string, args, {
      cwd: options.cwd,
      env: { ...process.env, ...options.env, HEALTH_PORT: String(healthPort), HEALTH_HOST: '127.0.0.1' },
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    const proc = new ServiceProcess(options.service, healthPort, options.logFile, child);
    const deadline = Date.now() + (options.readyTimeoutMs ?? 120_000);
    for (;;) {
      if (proc.exited) throw new Error(`${options.service} exited during start-up (code ${child.exitCode}); see ${options.logFile}`);
      if ((await httpStatus(`http://127.0.0.1:${healthPort}/readyz`)) === 200) return proc;
      if (Date.now() > deadline) {
        await proc.stop();
        throw new Error(`${options.service} was not ready in time; see ${options.logFile}`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  async stop(graceMs = 20_000): Promise<void> {
    if (this.exited) return;
    const gone = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
  }
}
