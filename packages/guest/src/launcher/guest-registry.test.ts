import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureGuestImage } from '../image/ensure-guest-image.js';
import { repoRoot } from '../paths.js';

const fixture = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'hold-guest.ts');

interface Held {
  readonly child: ChildProcess;
  readonly info: { pid: number; ramPath: string; runDir: string };
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const children: ChildProcess[] = [];
const qemuPids: number[] = [];

afterAll(() => {
  // Whatever happened above, nothing this file started may survive it.
  for (const child of children) child.kill('SIGKILL');
  for (const pid of qemuPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
});

async function holdGuest(): Promise<Held> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=source', fixture], {
    cwd: repoRoot,
    // stderr is ignored: the crashing fixture prints its stack there on purpose.
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  children.push(child);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const info = await new Promise<Held['info']>((resolve, reject) => {
    let text = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      text += chunk;
      const line = text.split('\n').find((l) => l.startsWith('{'));
      if (!line) return;
      const info = JSON.parse(line) as Held['info'];
      qemuPids.push(info.pid);
      resolve(info);
    });
    exited.then(({ code }) => reject(new Error(`fixture exited early (${code})`)));
  });
  return { child, info, exited };
}

async function gone(pid: number, timeoutMs = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  return !alive(pid);
}

// A first run builds the image (a minute or more on a busy machine) before anything boots.
const BUILD_AND_BOOT_TIMEOUT_MS = 600_000;

beforeAll(async () => {
  await ensureGuestImage();
}, BUILD_AND_BOOT_TIMEOUT_MS);

describe('the guest registry', () => {
  it('kills QEMU and removes its files when the owning process is terminated or crashes', async () => {
    const [terminated, crashed] = await Promise.all([holdGuest(), holdGuest()]);
    for (const held of [terminated, crashed]) {
      expect(alive(held.info.pid)).toBe(true);
      expect(existsSync(held.info.ramPath)).toBe(true);
    }
    terminated.child.kill('SIGTERM');
    crashed.child.stdin?.write('crash\n');
    // The signal still ends the process as it would have: the registry re-raises it.
    expect((await terminated.exited).signal).toBe('SIGTERM');
    expect((await crashed.exited).code).not.toBe(0);
    for (const held of [terminated, crashed]) {
      expect(await gone(held.info.pid)).toBe(true);
      expect(existsSync(held.info.ramPath)).toBe(false);
      expect(existsSync(held.info.runDir)).toBe(false);
    }
  });
});
