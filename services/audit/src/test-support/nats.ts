import { randomBytes } from 'node:crypto';
import { allStreamDefinitions, Subjects } from '@vmi/contracts';
import {
  connectNats,
  createLogger,
  deleteStreams,
  ensureStreams,
  type JetStreamClient,
  jetstream,
  type NatsConnection,
} from '@vmi/service-runtime';

export const TEST_NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

/** A NATS connection and a subject prefix of its own, with the platform's streams under it. */
export interface TestBus {
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly prefix: string;
  readonly subjects: Subjects;
  close(): Promise<void>;
}

export async function createTestBus(): Promise<TestBus> {
  const prefix = `t${randomBytes(5).toString('hex')}`;
  const logger = createLogger({ service: 'audit-test', level: 'silent' });
  const nc = await connectNats({ servers: TEST_NATS_URL, name: `audit-test-${prefix}`, logger });
  const defs = allStreamDefinitions(prefix);
  await ensureStreams(nc, defs);
  return {
    nc,
    js: jetstream(nc),
    prefix,
    subjects: new Subjects(prefix),
    close: async () => {
      await deleteStreams(
        nc,
        defs.map((d) => d.name),
      );
      await nc.drain();
    },
  };
}
