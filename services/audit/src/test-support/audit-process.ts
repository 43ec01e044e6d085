import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SERVER = fileURLToPath(new URL('../server.ts', import.meta.url));
const PACKAGE_DIR = fileURLToPath(new URL('../..', import.meta.url));

/** The audit service as its own process, started from source the way `server.ts` runs. */
export interface AuditProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** What the process wrote, for failure messages. */
  output(): string;
}

export async function startAuditProcess(env: Record<string, string | undefined>, startTimeoutMs = 120_000): Promise<AuditProcess> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', SERVER], {
    cwd: PACKAGE_DIR,
    env: { ...process.env, LOG_LEVEL: 'info', AUDIT_HTTP_PORT: '0', HEALTH_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`audit did not start:\n${output.slice(-4000)}`)), startTimeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      for (const line of output.split('\n')) {
        if (!line.includes('"audit API listening"')) continue;
        clearTimeout(timer);
        resolve((JSON.parse(line) as { address: string }).address);
        return;
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`audit exited with ${code} before listening:\n${output.slice(-4000)}`));
    });
  });
  return { url, child, exited, output: () => output };
}

/** Kills the process if it still runs and waits for it to go. */
export async function stopAuditProcess(p: AuditProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (p === undefined) return null;
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill(signal);
  return p.exited;
}
