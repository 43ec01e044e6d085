import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { Subjects, streamDefinition } from '@vmi/contracts';
import { connectNats, createLogger, deleteStreams, ensureStreams, jetstream, type Logger, type NatsConnection } from '@vmi/service-runtime';

export const TEST_NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

/** A logger whose raw lines are kept, so a test can search everything the gateway logged. */
export function capturedLogger(): { logger: Logger; text: () => string } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { logger: createLogger({ service: 'input-gateway-test', level: 'trace', destination }), text: () => chunks.join('') };
}

/**
 * A private subject prefix on the shared NATS server with its own INPUT stream, so parallel runs
 * never see each other's events. `close()` deletes the stream and drains the connection.
 */
export async function inputSandbox(logger: Logger) {
  const prefix = `t${randomBytes(5).toString('hex')}`;
  const nc: NatsConnection = await connectNats({ servers: TEST_NATS_URL, name: `input-test-${prefix}`, logger });
  const stream = streamDefinition('input', prefix);
  await ensureStreams(nc, [stream]);
  return {
    prefix,
    nc,
    js: jetstream(nc),
    subjects: new Subjects(prefix),
    stream,
    async close(): Promise<void> {
      if (nc.isClosed()) return;
      await deleteStreams(nc, [stream.name]);
      await nc.drain();
    },
  };
}
