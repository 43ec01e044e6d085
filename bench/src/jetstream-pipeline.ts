/**
 * JetStream pipeline through @vmi/service-runtime: publish (Nats-Msg-Id, trace headers) and a
 * durable pull consumer with validation and explicit ack, against the NATS at NATS_URL.
 * Measures publish rate (sequential awaited publishes, as a producer that waits for its PubAck),
 * end-to-end latency from publish to handler, and consume rate of a backlog.
 */
import { randomBytes } from 'node:crypto';
import { consumerDefinition, makeMessage, Subjects, streamDefinition, validators } from '@vmi/contracts';
import {
  connectNats,
  createLogger,
  deleteStreams,
  ensureStreams,
  jetstream,
  jetstreamManager,
  publishMessage,
  runConsumer,
} from '@vmi/service-runtime';
import { nowMs, runBench } from './harness.js';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 2000);
const logger = createLogger({ service: 'bench', level: 'warn' });
const nc = await connectNats({ servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222', name: 'bench-jetstream', logger });

function scan() {
  return makeMessage('scan-request', 'hv-01', 'web-1', { rules: ['syscall-table'], reason: 'on-demand' as const, requested_by: 'bench' });
}

try {
  await runBench({
    name: 'jetstream-pipeline',
    description: `${MESSAGES} scan requests per run: awaited publishes, then a 16-way durable consumer drains the backlog; latency is publish-call start to handler start, measured on a separate live run`,
    runs: 5,
    warmup: 1,
    units: { publish_per_s: 'msg/s', consume_per_s: 'msg/s', e2e_ms: 'ms' },
    targets: [{ name: 'a trap reaches the scanner quickly (one hop)', expression: 'e2e_ms_p99 < 50' }],
    run: async () => {
      const prefix = `b${randomBytes(4).toString('hex')}`;
      const subjects = new Subjects(prefix);
      const streams = [streamDefinition('scans', prefix), streamDefinition('deadLetters', prefix)];
      await ensureStreams(nc, streams);
      const js = jetstream(nc);
      try {
        // Publish rate: one producer awaiting each PubAck.
        let t0 = nowMs();
        for (let i = 0; i < MESSAGES; i++) await publishMessage(js, subjects.scan('hv-01', 'web-1'), scan());
        const publishPerS = MESSAGES / ((nowMs() - t0) / 1000);

        // Consume rate: drain the backlog.
        let seen = 0;
        let resolveAll: () => void = () => {};
        const all = new Promise<void>((r) => {
          resolveAll = r;
        });
        t0 = nowMs();
        const backlog = await runConsumer({
          nc,
          consumer: consumerDefinition('scans', 'bench-backlog', { prefix }),
          validator: validators.scanRequest,
          logger,
          subjects,
          concurrency: 16,
          handler: async () => {
            if (++seen === MESSAGES) resolveAll();
          },
        });
        await all;
        const consumePerS = MESSAGES / ((nowMs() - t0) / 1000);
        await backlog.stop();
        // The scans stream is a work queue: its consumers may not overlap, so the backlog one goes.
        await (await jetstreamManager(nc)).consumers.delete(streams[0]?.name ?? '', 'bench-backlog');

        // Latency: a live consumer, messages published one at a time, a little apart.
        const sentAt = new Map<string, number>();
        const latencies: number[] = [];
        const live = await runConsumer({
          nc,
          consumer: consumerDefinition('scans', 'bench-live', { prefix, filterSubject: subjects.scan('hv-01', 'live') }),
          validator: validators.scanRequest,
          logger,
          subjects,
          handler: async (value) => {
            const t = sentAt.get(value.id);
            if (t !== undefined) latencies.push(nowMs() - t);
          },
        });
        for (let i = 0; i < 200; i++) {
          const msg = { ...scan(), guest: 'live' };
          sentAt.set(msg.id, nowMs());
          await publishMessage(js, subjects.scan('hv-01', 'live'), msg);
          await new Promise((r) => setTimeout(r, 2));
        }
        while (latencies.length < 200) await new Promise((r) => setTimeout(r, 10));
        await live.stop();
        return { publish_per_s: publishPerS, consume_per_s: consumePerS, e2e_ms: latencies };
      } finally {
        await deleteStreams(
          nc,
          streams.map((s) => s.name),
        );
      }
    },
  });
} finally {
  await nc.drain();
}
