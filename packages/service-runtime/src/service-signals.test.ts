import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { allStreamDefinitions } from '@vmi/contracts';
import { afterEach, describe, expect, it } from 'vitest';
import { deleteStreams, jetstream, publishMessage } from './jetstream.js';
import { connectNats } from './nats.js';
import { scanRequest } from './test-messages.js';
import { captureLogger, eventually, TEST_NATS_URL } from './test-support.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const FIXTURE = fileURLToPath(new URL('./fixtures/slow-consumer-service.ts', import.meta.url));

interface RunningService {
  child: ChildProcess;
  lines: Record<string, unknown>[];
}

function startChild(prefix: string): RunningService {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', FIXTURE], {
    cwd: ROOT,
    env: { ...process.env, NATS_URL: TEST_NATS_URL, SUBJECT_PREFIX: prefix, LOG_LEVEL: 'info', HEALTH_PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: Record<string, unknown>[] = [];
  let buffered = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const p of parts) if (p.trim().startsWith('{')) lines.push(JSON.parse(p) as Record<string, unknown>);
  });
  return { child, lines };
}

describe('a service receiving SIGTERM', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  it('finishes its in-flight messages, drains, exits 0, and loses nothing', async () => {
    const prefix = `t${randomBytes(5).toString('hex')}`;
    const { logger } = captureLogger();
    const nc = await connectNats({ servers: TEST_NATS_URL, name: 'signal-test', logger });
    try {
      const first = startChild(prefix);
      children.push(first.child);
      await eventually(() => first.lines.some((l) => l.msg === 'consuming'), 'the service to start', 60_000);

      const js = jetstream(nc);
      const ids = new Set<string>();
      for (let i = 0; i < 40; i++) {
        const msg = scanRequest();
        ids.add(msg.id);
        await publishMessage(js, `${prefix}.scan.hv-01.web-1`, msg);
      }
      const processedBy = (s: RunningService) => s.lines.filter((l) => l.msg === 'processed').map((l) => l.id as string);
      await eventually(() => processedBy(first).length >= 5, 'some messages processed');
      first.child.kill('SIGTERM');
      const [code] = await once(first.child, 'exit');
      expect(code).toBe(0);
      const messages = first.lines.map((l) => l.msg);
      expect(messages).toContain('shutdown complete');
      expect(messages.indexOf('consumer stopped')).toBeLessThan(messages.indexOf('shutdown complete'));
      const firstIds = processedBy(first);
      expect(firstIds.length).toBeLessThan(40);

      const second = startChild(prefix);
      children.push(second.child);
      await eventually(() => firstIds.length + processedBy(second).length >= 40, 'the rest processed after a restart', 60_000);
      second.child.kill('SIGTERM');
      await once(second.child, 'exit');
      const all = [...firstIds, ...processedBy(second)];
      expect(all).toHaveLength(40);
      expect(new Set(all)).toEqual(ids);
    } finally {
      await deleteStreams(
        nc,
        allStreamDefinitions(prefix).map((d) => d.name),
      );
      await nc.drain();
    }
  });
});
