import { describe, expect, it } from 'vitest';
import { createShutdown } from './shutdown.js';
import { captureLogger } from './test-support.js';

describe('graceful shutdown', () => {
  it('closes in reverse order of registration, once, and carries on past a failing closer', async () => {
    const { logger, lines } = captureLogger();
    const order: string[] = [];
    let started = 0;
    const shutdown = createShutdown(logger, { onStart: () => started++ });
    shutdown.add('telemetry', () => {
      order.push('telemetry');
    });
    shutdown.add('nats', async () => {
      await new Promise((r) => setTimeout(r, 20));
      order.push('nats');
    });
    shutdown.add('broken', () => {
      throw new Error('boom');
    });
    shutdown.add('consumer', async () => {
      order.push('consumer');
    });
    expect(shutdown.shuttingDown).toBe(false);
    const a = shutdown.run('test');
    const b = shutdown.run('again');
    expect(a).toBe(b);
    await a;
    expect(order).toEqual(['consumer', 'nats', 'telemetry']);
    expect(started).toBe(1);
    expect(shutdown.shuttingDown).toBe(true);
    expect(lines.some((l) => l.msg === 'closer failed; continuing' && l.closer === 'broken')).toBe(true);
    expect(() => shutdown.add('late', () => {})).toThrow(/already started/);
  });

  it('abandons a closer that hangs after its timeout', async () => {
    const { logger, lines } = captureLogger();
    const shutdown = createShutdown(logger, { closerTimeoutMs: 50 });
    let after = false;
    shutdown.add('after', () => {
      after = true;
    });
    shutdown.add('hangs', () => new Promise<void>(() => {}));
    await shutdown.run('test');
    expect(after).toBe(true);
    expect(lines.some((l) => l.msg === 'closer timed out; continuing' && l.closer === 'hangs')).toBe(true);
  });
});
