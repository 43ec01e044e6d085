import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '@vmi/stack';
import { afterAll, describe, expect, it } from 'vitest';

const QUICKSTART_LIMIT_MS = 20 * 60_000;

/** Resolves with the first line (past or future) of the child's output that matches. */
function waitForLine(lines: string[], child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const found = () => lines.find((l) => pattern.test(l));
    const timer = setInterval(() => {
      const line = found();
      if (line !== undefined) {
        clearInterval(timer);
        resolve(line);
      } else if (child.exitCode !== null || Date.now() > deadline) {
        clearInterval(timer);
        reject(new Error(`no line matching ${pattern} (exit ${child.exitCode}); last output:\n${lines.slice(-30).join('\n')}`));
      }
    }, 200);
    const deadline = Date.now() + timeoutMs;
  });
}

// The README's first quickstart command, run as a newcomer would: from a fresh clone of the
// repository, with the demo attacks, until a finding shows; then Ctrl-C must stop everything.
describe('the quickstart demo', () => {
  const clone = mkdtempSync(join(tmpdir(), 'vmi-quickstart-'));
  let child: ChildProcess | undefined;

  afterAll(() => {
    if (child?.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
    rmSync(clone, { recursive: true, force: true });
  });

  it(
    'reaches "protected" from a clean clone and shows a finding after the demo attack',
    async () => {
      // A checkout others can read, as a real one is: sandboxed components run under their own uids.
      chmodSync(clone, 0o755);
      execFileSync('git', ['clone', '--quiet', repoRoot, clone]);
      const lines: string[] = [];
      child = spawn('bash', [join(clone, 'scripts/demo.sh'), '--attack'], {
        cwd: clone,
        detached: true,
        // The guest image is cached by content hash; sharing the cache only skips a rebuild of the
        // same bytes.
        env: { ...process.env, VMI_GUEST_CACHE_DIR: join(repoRoot, '.cache', 'guest') },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let partial = '';
      const onData = (d: Buffer) => {
        const parts = (partial + d.toString()).split('\n');
        partial = parts.pop() ?? '';
        lines.push(...parts);
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);

      expect(await waitForLine(lines, child, /protected: demo/, QUICKSTART_LIMIT_MS)).toMatch(/rules/);
      const finding = await waitForLine(lines, child, /FINDING (CRITICAL|HIGH) /, 120_000);
      expect(finding).toMatch(/on demo:/);

      const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));
      process.kill(-(child.pid as number), 'SIGINT');
      expect(await exited).toBe(0);
      expect(lines.some((l) => /\] stopped$/.test(l))).toBe(true);
      expect(existsSync(join(clone, '.run', 'stack', 'demo.json'))).toBe(true);
    },
    QUICKSTART_LIMIT_MS + 5 * 60_000,
  );
});
