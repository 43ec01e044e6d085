import { jetstreamManager } from '@nats-io/jetstream';
import { validators } from '@vmi/contracts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ConsumerHandle, runBatchConsumer, runConsumer } from './consumer.js';
import { jetstream, publishMessage } from './jetstream.js';
import { scanRequest } from './test-messages.js';
import { eventually, type NatsSandbox, natsSandbox } from './test-support.js';

const N = 60;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('stopping a consumer with messages in flight', () => {
  let sandbox: NatsSandbox;
  let handles: ConsumerHandle[] = [];
  beforeEach(async () => {
    sandbox = await natsSandbox(['scans', 'deadLetters']);
    handles = [];
  });
  afterEach(async () => {
    for (const h of handles) await h.stop();
    await sandbox?.close();
  });

  async function publishAll(): Promise<Set<string>> {
    const js = jetstream(sandbox.nc);
    const ids = new Set<string>();
    for (let i = 0; i < N; i++) {
      const msg = scanRequest({ guest: `guest-${i % 5}` });
      ids.add(msg.id);
      await publishMessage(js, sandbox.subjects.scan(msg.host, msg.guest), msg);
    }
    return ids;
  }

  async function assertAllAcked(durable: string) {
    const info = await (await jetstreamManager(sandbox.nc)).consumers.info(sandbox.streams[0]?.name ?? '', durable);
    expect(info.num_pending).toBe(0);
    expect(info.num_ack_pending).toBe(0);
  }

  it('finishes and acks what it started, and a restarted consumer gets the rest: each message processed once', async () => {
    const published = await publishAll();
    const processed = new Map<string, number>();
    let started = 0;
    const options = {
      nc: sandbox.nc,
      consumer: sandbox.consumer('scans', 'draining', { ackWaitSeconds: 5 }),
      validator: validators.scanRequest,
      logger: sandbox.logger,
      subjects: sandbox.subjects,
      concurrency: 8,
      handler: async (value: { id: string }) => {
        started++;
        await sleep(40);
        processed.set(value.id, (processed.get(value.id) ?? 0) + 1);
      },
    };
    const first = await runConsumer(options);
    await eventually(() => processed.size >= 10 && first.stats.inFlight > 0, 'some processed and some in flight');
    const inFlightAtStop = first.stats.inFlight;
    await first.stop();
    expect(inFlightAtStop).toBeGreaterThan(0);
    expect(first.stats.inFlight).toBe(0);
    // Every handler that started before the stop finished.
    expect(processed.size).toBe(started);
    expect(processed.size).toBeLessThan(N);
    const afterFirst = processed.size;

    const second = await runConsumer(options);
    handles.push(second);
    await eventually(() => processed.size === N, 'all messages processed after the restart');
    await second.stop();

    expect(new Set(processed.keys())).toEqual(published);
    expect([...processed.values()].every((count) => count === 1)).toBe(true);
    expect(first.stats.processed + second.stats.processed).toBe(N);
    expect(second.stats.processed).toBe(N - afterFirst);
    await assertAllAcked('draining');
  });

  it('lets a batch in flight finish before a batch consumer stops', async () => {
    const published = await publishAll();
    const processed = new Map<string, number>();
    const options = {
      nc: sandbox.nc,
      consumer: sandbox.consumer('scans', 'batched', { ackWaitSeconds: 5 }),
      validator: validators.scanRequest,
      logger: sandbox.logger,
      subjects: sandbox.subjects,
      batchSize: 16,
      handler: async (batch: { value: { id: string } }[]) => {
        await sleep(100);
        for (const { value } of batch) processed.set(value.id, (processed.get(value.id) ?? 0) + 1);
      },
    };
    const first = await runBatchConsumer(options);
    await eventually(() => first.stats.inFlight > 0, 'a batch in flight');
    await first.stop();
    expect(first.stats.inFlight).toBe(0);
    expect(processed.size).toBe(first.stats.processed);
    expect(processed.size).toBeLessThan(N);

    const second = await runBatchConsumer(options);
    handles.push(second);
    await eventually(() => processed.size === N, 'all messages processed after the restart');
    await second.stop();
    expect(new Set(processed.keys())).toEqual(published);
    expect([...processed.values()].every((count) => count === 1)).toBe(true);
    await assertAllAcked('batched');
  });
});
