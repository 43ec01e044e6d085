import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { consumerDefinition, type StreamKey, Subjects, streamDefinition } from '@vmi/contracts';
import { deleteStreams, ensureStreams } from './jetstream.js';
import { createLogger, type Logger } from './logger.js';
import { connectNats, type NatsConnection } from './nats.js';

/** The NATS server tests run against (the CI machine runs one with JetStream). */
export const TEST_NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

/** A logger whose lines are kept (parsed) for assertions, and not printed. */
export function captureLogger(service = 'test'): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ service, level: 'debug', destination }), lines };
}

/**
 * A private corner of the shared NATS server: a random subject prefix and its own streams, so
 * concurrent test runs never see each other's messages. `close()` deletes the streams.
 */
export async function natsSandbox(keys: StreamKey[]) {
  const prefix = `t${randomBytes(5).toString('hex')}`;
  const { logger, lines } = captureLogger();
  const nc = await connectNats({ servers: TEST_NATS_URL, name: `test-${prefix}`, logger });
  const defs = keys.map((k) => streamDefinition(k, prefix));
  await ensureStreams(nc, defs);
  return {
    prefix,
    nc,
    logger,
    lines,
    subjects: new Subjects(prefix),
    streams: defs,
    consumer: (key: StreamKey, durable: string, options: Parameters<typeof consumerDefinition>[2] = {}) =>
      consumerDefinition(key, durable, { ...options, prefix }),
    async close(): Promise<void> {
      if (nc.isClosed()) return;
      await deleteStreams(
        nc,
        defs.map((d) => d.name),
      );
      await nc.drain();
    },
  };
}

export type NatsSandbox = Awaited<ReturnType<typeof natsSandbox>>;

/** Resolves when `predicate` holds, polling; rejects after `timeoutMs` with `what` in the message. */
export async function eventually(predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export type { NatsConnection };
