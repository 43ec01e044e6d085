import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXAMPLES, type TrapEvent, type Verdict } from '@vmi/contracts';
import { createLogger } from '@vmi/service-runtime';
import { afterAll, describe, expect, it } from 'vitest';
import { TrapHandoffClient } from './trap-handoff-client.js';

const dir = mkdtempSync(join(tmpdir(), 'vmi-handoff-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const logger = createLogger({ service: 'test', level: 'silent' });

function trap(id: string): TrapEvent {
  const example = EXAMPLES['trap-event'];
  if (example === undefined) throw new Error('no trap-event example');
  return { ...(structuredClone(example.good) as TrapEvent), id };
}

const line = (event: TrapEvent, trace: Record<string, string> = {}) => `${JSON.stringify({ trace, event })}\n`;

/** The agent's side: a Unix socket server that keeps its connections for the test to write to. */
async function agentSocket(path: string): Promise<{ server: Server; sockets: Socket[]; close(): Promise<void> }> {
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    s.on('error', () => undefined);
    sockets.push(s);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    server,
    sockets,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

async function until(what: string, predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('the scanner side of the trap handoff', () => {
  it('passes on each valid event however the lines are cut, and counts and skips what is not one', async () => {
    const path = join(dir, 'a.sock');
    const agent = await agentSocket(path);
    const got: string[] = [];
    const traces: (string | undefined)[] = [];
    const client = new TrapHandoffClient(
      path,
      (e, t) => {
        got.push(e.id);
        traces.push(t.traceparent);
      },
      logger,
    );
    client.start();
    try {
      await until('a connection', () => agent.sockets.length === 1);
      const socket = agent.sockets[0] as Socket;
      const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
      const one = line(trap('0f2c1a9e-8a55-4c1f-9d1e-1b2f3c4d5e61'), { traceparent });
      const two = line(trap('0f2c1a9e-8a55-4c1f-9d1e-1b2f3c4d5e62'));
      // One event cut in three writes, then a bad line and a valid one in a single write.
      socket.write(one.slice(0, 10));
      socket.write(one.slice(10, 200));
      socket.write(one.slice(200));
      const bad = [
        '{"trace":{},"event":{"not":"a trap"}}',
        'not json',
        '[1,2]',
        `{"trace":{"traceparent":7},"event":${JSON.stringify(trap('0f2c1a9e-8a55-4c1f-9d1e-1b2f3c4d5e69'))}}`,
      ];
      socket.write(`${bad.join('\n')}\n${two}`);
      await until('two events', () => got.length === 2);
      expect(got).toEqual(['0f2c1a9e-8a55-4c1f-9d1e-1b2f3c4d5e61', '0f2c1a9e-8a55-4c1f-9d1e-1b2f3c4d5e62']);
      expect(traces).toEqual([traceparent, undefined]);
      expect(client.counters).toEqual({ received: 2, refused: bad.length, verdicts: 0 });
      expect(client.connected).toBe(true);
    } finally {
      client.stop();
      await agent.close();
    }
  });

  it('drops a connection that sends a line longer than any event, and comes back', async () => {
    const path = join(dir, 'b.sock');
    const agent = await agentSocket(path);
    const got: string[] = [];
    const client = new TrapHandoffClient(path, (e) => got.push(e.id), logger);
    client.start();
    try {
      await until('a connection', () => agent.sockets.length === 1);
      agent.sockets[0]?.write(Buffer.alloc(300 * 1024, 0x61));
      await until('the reconnection', () => agent.sockets.length === 2 && client.connected);
      expect(client.counters.refused).toBe(1);
      agent.sockets[1]?.write(line(trap('0f2c1a9e-8a55-4c1f-9d1e-1b2f3c4d5e63')));
      await until('the event', () => got.length === 1);
    } finally {
      client.stop();
      await agent.close();
    }
  });

  it('hands verdicts back to the agent on its connection, one line each, and says when it cannot', async () => {
    const path = join(dir, 'd.sock');
    const verdict = EXAMPLES.verdict?.good as Verdict;
    const client = new TrapHandoffClient(path, () => undefined, logger);
    client.start();
    try {
      expect(client.handBack(verdict)).toBe(false);
      const agent = await agentSocket(path);
      await until('a connection', () => agent.sockets.length === 1 && client.connected);
      const received: string[] = [];
      agent.sockets[0]?.on('data', (chunk: Buffer) => received.push(chunk.toString('utf8')));
      expect(client.handBack(verdict)).toBe(true);
      expect(client.handBack({ ...verdict, trap_id: '0f2c1a9e-8a55-4c1f-9d1e-1b2f3c4d5e70' })).toBe(true);
      await until('two lines', () => received.join('').split('\n').length === 3);
      const lines = received
        .join('')
        .split('\n')
        .slice(0, 2)
        .map((l) => JSON.parse(l) as { verdict: Verdict });
      expect(lines.map((l) => l.verdict.trap_id)).toEqual([verdict.trap_id, '0f2c1a9e-8a55-4c1f-9d1e-1b2f3c4d5e70']);
      expect(client.counters.verdicts).toBe(2);
      await agent.close();
    } finally {
      client.stop();
    }
  });

  it('waits for an agent that is not there yet, and for one that restarts', async () => {
    const path = join(dir, 'c.sock');
    const got: string[] = [];
    const client = new TrapHandoffClient(path, (e) => got.push(e.id), logger);
    client.start();
    try {
      await new Promise((r) => setTimeout(r, 300));
      expect(client.connected).toBe(false);
      let agent = await agentSocket(path);
      await until('a connection', () => agent.sockets.length === 1);
      await agent.close();
      rmSync(path, { force: true });
      agent = await agentSocket(path);
      await until('a connection to the new agent', () => agent.sockets.length === 1 && client.connected);
      agent.sockets[0]?.write(line(trap('0f2c1a9e-8a55-4c1f-9d1e-1b2f3c4d5e64')));
      await until('the event', () => got.length === 1);
      await agent.close();
    } finally {
      client.stop();
    }
  });
});
