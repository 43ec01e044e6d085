import { jetstreamManager } from '@nats-io/jetstream';
import { CoreErrors, type DeadLetter, idTime, VmiError, validators } from '@vmi/contracts';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ConsumerHandle, runConsumer } from './consumer.js';
import { publishDeadLetter } from './deadletter.js';
import { ensureConsumer, jetstream, publishMessage } from './jetstream.js';
import { scanRequest } from './test-messages.js';
import { eventually, type NatsSandbox, natsSandbox } from './test-support.js';

describe('messages that can never be processed', () => {
  let sandbox: NatsSandbox;
  let handle: ConsumerHandle | undefined;
  beforeEach(async () => {
    sandbox = await natsSandbox(['scans', 'deadLetters']);
  });
  afterEach(async () => {
    await handle?.stop();
    await sandbox?.close();
  });

  async function deadLetters(count: number): Promise<{ record: DeadLetter; subject: string; code: string | undefined }[]> {
    const c = await jetstream(sandbox.nc).consumers.get(sandbox.streams[1]?.name ?? '');
    const out: { record: DeadLetter; subject: string; code: string | undefined }[] = [];
    while (out.length < count) {
      const m = await c.next({ expires: 2000 });
      if (m === null) break;
      out.push({ record: validators.deadLetter.decode(m.data), subject: m.subject, code: m.headers?.get('Vmi-Error-Code') });
    }
    return out;
  }

  it('go to the dead-letter subject with their error, are acked, and the consumer carries on', async () => {
    const js = jetstream(sandbox.nc);
    const subject = sandbox.subjects.scan('hv-01', 'web-1');
    const handled: string[] = [];
    handle = await runConsumer({
      nc: sandbox.nc,
      consumer: sandbox.consumer('scans', 'strict'),
      validator: validators.scanRequest,
      logger: sandbox.logger,
      subjects: sandbox.subjects,
      hostName: 'scanner-host',
      handler: async (value) => {
        if (value.requested_by === 'refused') throw new VmiError(CoreErrors.FORBIDDEN, 'not allowed', { path: '/requested_by' });
        if (value.requested_by === 'unprocessable')
          throw new VmiError(CoreErrors.UNKNOWN_MESSAGE_TYPE, 'no such rule', { path: '/rules/0' });
        handled.push(value.id);
      },
    });

    const invalid = { ...scanRequest(), rules: 'all' };
    await publishMessage(js, subject, invalid);
    await js.publish(subject, '{"id": "not json');
    const rejectedByHandler = scanRequest({ requested_by: 'unprocessable' });
    await publishMessage(js, subject, rejectedByHandler);
    const good = scanRequest();
    await publishMessage(js, subject, good);

    await eventually(() => handle?.stats.processed === 1 && handle.stats.deadLettered === 3, 'one processed and three dead letters');
    expect(handled).toEqual([good.id]);

    // Handled concurrently, so dead letters may be published in any order: sort by source sequence.
    const letters = (await deadLetters(3)).sort((a, b) => a.record.stream_seq - b.record.stream_seq);
    expect(letters.map((l) => l.record.error.code)).toEqual(['VMI_ERR_VALIDATION', 'VMI_ERR_JSON_PARSE', 'VMI_ERR_UNKNOWN_MESSAGE_TYPE']);
    const [validation, json, unprocessable] = letters;
    expect(validation?.record.error.path).toBe('/rules');
    expect(validation?.code).toBe('VMI_ERR_VALIDATION');
    expect(validation?.subject).toBe(sandbox.subjects.deadLetter(sandbox.streams[0]?.name ?? '', 'strict'));
    expect(validation?.record).toMatchObject({
      host: 'scanner-host',
      guest: 'web-1',
      subject,
      consumer: 'strict',
      deliveries: 1,
      payload_truncated: false,
    });
    expect(JSON.parse(Buffer.from(validation?.record.payload_base64 ?? '', 'base64').toString('utf8'))).toEqual(invalid);
    expect(Buffer.from(json?.record.payload_base64 ?? '', 'base64').toString('utf8')).toBe('{"id": "not json');
    expect(json?.record.guest).toBeNull();
    expect(unprocessable?.record.error.path).toBe('/rules/0');

    // Everything was acked: nothing pending, nothing waiting for an ack.
    const info = await (await jetstreamManager(sandbox.nc)).consumers.info(sandbox.streams[0]?.name ?? '', 'strict');
    expect(info.num_pending).toBe(0);
    expect(info.num_ack_pending).toBe(0);
  });

  it('retries rather than drops a message when the dead-letter stream is missing', async () => {
    const jsm = await jetstreamManager(sandbox.nc);
    await jsm.streams.delete(sandbox.streams[1]?.name ?? '');
    handle = await runConsumer({
      nc: sandbox.nc,
      consumer: sandbox.consumer('scans', 'no-dlq'),
      validator: validators.scanRequest,
      logger: sandbox.logger,
      subjects: sandbox.subjects,
      retryDelayMs: () => 100,
      handler: async () => {},
    });
    await jetstream(sandbox.nc).publish(sandbox.subjects.scan('hv-01', 'web-1'), '[]');
    await eventually(() => (handle?.stats.failed ?? 0) >= 2, 'two failed dead-letter attempts');
    expect(handle.stats.deadLettered).toBe(0);
    const info = await jsm.consumers.info(sandbox.streams[0]?.name ?? '', 'no-dlq');
    expect(info.num_ack_pending + info.num_pending).toBe(1);
  });

  it('are stored once when the same message is dead-lettered again after its ack was lost', async () => {
    const js = jetstream(sandbox.nc);
    const jsm = await jetstreamManager(sandbox.nc);
    const subject = sandbox.subjects.scan('hv-01', 'web-1');
    await js.publish(subject, '{"not json');
    const def = sandbox.consumer('scans', 'crashy');
    await ensureConsumer(sandbox.nc, def);
    const consumer = await js.consumers.get(def.stream, def.durable_name);
    const where = { stream: def.stream, consumer: def.durable_name, hostName: 'scanner-host' };
    const err = new VmiError(CoreErrors.JSON_PARSE, 'bad');

    // A consumer dead-letters the first message and dies before its ack reaches the server: the
    // message comes back and is dead-lettered again. The second message is another dead letter.
    const first = await consumer.next({ expires: 2000 });
    if (first === null) throw new Error('no message');
    const published = await publishDeadLetter(js, sandbox.subjects, first, err, where);
    first.nak();
    const again = await consumer.next({ expires: 2000 });
    if (again === null) throw new Error('no redelivery');
    expect(again.info.streamSequence).toBe(first.info.streamSequence);
    expect(again.info.deliveryCount).toBe(2);
    const republished = await publishDeadLetter(js, sandbox.subjects, again, err, where);
    again.ack();
    // Published only now: with it pending, the server may deliver it before the redelivery.
    await js.publish(subject, '{"not json');
    const second = await consumer.next({ expires: 2000 });
    if (second === null) throw new Error('no second message');
    const other = await publishDeadLetter(js, sandbox.subjects, second, err, where);
    second.ack();

    expect(republished.id).toBe(published.id);
    expect(other.id).not.toBe(published.id);
    // A time-ordered id, dated when the stream stored the original message.
    expect(idTime(published.id)).toBe(Math.floor(first.info.timestampNanos / 1e6));
    const info = await jsm.streams.info(sandbox.streams[1]?.name ?? '');
    expect(info.state.messages).toBe(2);
    const letters = await deadLetters(2);
    expect(letters.map((l) => l.record.id).sort()).toEqual([published.id, other.id].sort());
    expect(letters.find((l) => l.record.id === published.id)?.record.deliveries).toBe(1);
  });
});
