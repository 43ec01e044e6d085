import { validators } from '@vmi/contracts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ConsumerHandle, runConsumer } from './consumer.js';
import { jetstream, publishMessage } from './jetstream.js';
import { scanRequest } from './test-messages.js';
import { eventually, type NatsSandbox, natsSandbox } from './test-support.js';

describe('a consumer whose handler fails', () => {
  let sandbox: NatsSandbox;
  let handle: ConsumerHandle | undefined;
  beforeEach(async () => {
    sandbox = await natsSandbox(['scans', 'deadLetters']);
  });
  afterEach(async () => {
    await handle?.stop();
    await sandbox?.close();
  });

  it('sees the message redelivered and acks it once it succeeds', async () => {
    const msg = scanRequest();
    const deliveries: number[] = [];
    handle = await runConsumer({
      nc: sandbox.nc,
      consumer: sandbox.consumer('scans', 'retrying'),
      validator: validators.scanRequest,
      logger: sandbox.logger,
      subjects: sandbox.subjects,
      retryDelayMs: () => 100,
      handler: async (value, ctx) => {
        expect(value.id).toBe(msg.id);
        deliveries.push(ctx.deliveryCount);
        if (ctx.deliveryCount < 3) throw new Error('database unavailable');
      },
    });
    await publishMessage(jetstream(sandbox.nc), sandbox.subjects.scan(msg.host, msg.guest), msg);
    await eventually(() => handle?.stats.processed === 1, 'the third delivery to succeed');
    expect(deliveries).toEqual([1, 2, 3]);
    expect(handle.stats).toMatchObject({ processed: 1, failed: 2, deadLettered: 0 });
    expect(sandbox.lines.filter((l) => l.msg === 'handler failed; message will be redelivered')).toHaveLength(2);
  });

  it('dead-letters the message when its last allowed delivery fails', async () => {
    const msg = scanRequest();
    let calls = 0;
    handle = await runConsumer({
      nc: sandbox.nc,
      consumer: sandbox.consumer('scans', 'exhausted', { maxDeliver: 2 }),
      validator: validators.scanRequest,
      logger: sandbox.logger,
      subjects: sandbox.subjects,
      retryDelayMs: () => 50,
      handler: async () => {
        calls++;
        throw new Error('always broken');
      },
    });
    await publishMessage(jetstream(sandbox.nc), sandbox.subjects.scan(msg.host, msg.guest), msg);
    await eventually(() => handle?.stats.deadLettered === 1, 'the message to be dead-lettered');
    expect(calls).toBe(2);
    const dl = await jetstream(sandbox.nc).consumers.get(sandbox.streams[1]?.name ?? '');
    const record = validators.deadLetter.decode((await dl.next({ expires: 2000 }))?.data ?? new Uint8Array());
    expect(record.error).toEqual({ code: 'VMI_ERR_INTERNAL', message: 'always broken', path: null });
    expect(record.deliveries).toBe(2);
  });
});
