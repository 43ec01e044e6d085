import { jetstreamManager } from '@nats-io/jetstream';
import { CoreErrors, VmiError, validators } from '@vmi/contracts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ConsumerHandle, runBatchConsumer } from './consumer.js';
import { jetstream, publishMessage } from './jetstream.js';
import { scanRequest } from './test-messages.js';
import { eventually, type NatsSandbox, natsSandbox } from './test-support.js';

describe('a batch consumer', () => {
  let sandbox: NatsSandbox;
  let handle: ConsumerHandle | undefined;
  beforeEach(async () => {
    sandbox = await natsSandbox(['scans', 'deadLetters']);
  });
  afterEach(async () => {
    await handle?.stop();
    await sandbox?.close();
  });

  it('hands valid messages over in batches, dead-letters invalid ones, and isolates a message the handler refuses', async () => {
    const js = jetstream(sandbox.nc);
    const subject = sandbox.subjects.scan('hv-01', 'web-1');
    const good = Array.from({ length: 10 }, () => scanRequest());
    const refused = scanRequest({ requested_by: 'poison' });
    for (const m of good.slice(0, 5)) await publishMessage(js, subject, m);
    await js.publish(subject, '{"type": "scan-request"}');
    await publishMessage(js, subject, refused);
    for (const m of good.slice(5)) await publishMessage(js, subject, m);

    const batches: number[] = [];
    const stored: string[] = [];
    handle = await runBatchConsumer({
      nc: sandbox.nc,
      consumer: sandbox.consumer('scans', 'batches'),
      validator: validators.scanRequest,
      logger: sandbox.logger,
      subjects: sandbox.subjects,
      batchSize: 32,
      handler: async (batch) => {
        batches.push(batch.length);
        if (batch.some((item) => item.value.requested_by === 'poison')) {
          throw new VmiError(CoreErrors.VALIDATION, 'rule list refused', { path: '/requested_by' });
        }
        stored.push(...batch.map((item) => item.value.id));
      },
    });
    await eventually(() => handle?.stats.processed === 10 && handle.stats.deadLettered === 2, 'ten stored, two dead letters');
    // One batch of all 11 valid messages failed on the poison one; then each went alone.
    expect(batches[0]).toBe(11);
    expect(batches.slice(1).every((n) => n === 1)).toBe(true);
    expect(new Set(stored)).toEqual(new Set(good.map((m) => m.id)));
    expect(stored).toHaveLength(10);

    const dl = await jetstream(sandbox.nc).consumers.get(sandbox.streams[1]?.name ?? '');
    const codes: string[] = [];
    for (let i = 0; i < 2; i++) {
      const m = await dl.next({ expires: 2000 });
      if (m) codes.push(validators.deadLetter.decode(m.data).error.code);
    }
    expect(codes.sort()).toEqual(['VMI_ERR_VALIDATION', 'VMI_ERR_VALIDATION']);
  });

  it('retries the whole batch when the handler fails for a reason a retry can fix', async () => {
    const js = jetstream(sandbox.nc);
    const msgs = Array.from({ length: 4 }, () => scanRequest());
    for (const m of msgs) await publishMessage(js, sandbox.subjects.scan(m.host, m.guest), m);
    let attempts = 0;
    const stored: string[] = [];
    handle = await runBatchConsumer({
      nc: sandbox.nc,
      consumer: sandbox.consumer('scans', 'flaky'),
      validator: validators.scanRequest,
      logger: sandbox.logger,
      subjects: sandbox.subjects,
      retryDelayMs: () => 100,
      handler: async (batch) => {
        attempts++;
        if (attempts === 1) throw new Error('connection reset');
        stored.push(...batch.map((b) => b.value.id));
      },
    });
    await eventually(() => handle?.stats.processed === 4, 'all four stored');
    expect(new Set(stored)).toEqual(new Set(msgs.map((m) => m.id)));
    expect(handle.stats.failed).toBe(4);
    expect(handle.stats.deadLettered).toBe(0);
  });

  it.each([
    [undefined, 2],
    [3, 3],
  ])(
    'pulls and validates later batches while the handler works, holds no more than heldBatches (%s), and keeps stream order',
    async (heldBatches, held) => {
      const js = jetstream(sandbox.nc);
      const msgs = Array.from({ length: 40 }, () => scanRequest());
      for (const m of msgs) await publishMessage(js, sandbox.subjects.scan(m.host, m.guest), m);
      const def = sandbox.consumer('scans', `prefetch-${held}`);
      let release: () => void = () => undefined;
      const gate = new Promise<void>((resolve) => {
        release = resolve;
      });
      const stored: string[] = [];
      handle = await runBatchConsumer({
        nc: sandbox.nc,
        consumer: def,
        validator: validators.scanRequest,
        logger: sandbox.logger,
        subjects: sandbox.subjects,
        batchSize: 10,
        ...(heldBatches === undefined ? {} : { heldBatches }),
        handler: async (batch) => {
          await gate;
          stored.push(...batch.map((b) => b.value.id));
        },
      });
      // The first batch is stuck in its handler; the next are pulled meanwhile, up to the limit.
      await eventually(() => handle?.stats.inFlight === held * 10, `${held} batches held`);
      await new Promise((r) => setTimeout(r, 300));
      const info = await (await jetstreamManager(sandbox.nc)).consumers.info(def.stream, def.durable_name);
      expect(info.num_ack_pending).toBe(held * 10);
      expect(handle.stats.inFlight).toBe(held * 10);
      expect(stored).toEqual([]);
      release();
      await eventually(() => handle?.stats.processed === 40, 'all stored');
      expect(stored).toEqual(msgs.map((m) => m.id));
    },
  );

  it('with overlap, starts the next handler while one runs, never more than two at once', async () => {
    const js = jetstream(sandbox.nc);
    const msgs = Array.from({ length: 60 }, () => scanRequest());
    for (const m of msgs) await publishMessage(js, sandbox.subjects.scan(m.host, m.guest), m);
    let running = 0;
    let most = 0;
    const stored = new Set<string>();
    handle = await runBatchConsumer({
      nc: sandbox.nc,
      consumer: sandbox.consumer('scans', 'overlap'),
      validator: validators.scanRequest,
      logger: sandbox.logger,
      subjects: sandbox.subjects,
      batchSize: 10,
      overlap: true,
      handler: async (batch) => {
        running++;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 100));
        for (const b of batch) stored.add(b.value.id);
        running--;
      },
    });
    await eventually(() => handle?.stats.processed === 60, 'all stored');
    expect(most).toBe(2);
    expect(stored).toEqual(new Set(msgs.map((m) => m.id)));
  });
});
