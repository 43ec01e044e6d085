import { jetstreamManager } from '@nats-io/jetstream';
import { validators } from '@vmi/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream, publishMessage } from './jetstream.js';
import { scanRequest } from './test-messages.js';
import { type NatsSandbox, natsSandbox } from './test-support.js';

describe('publishing with Nats-Msg-Id', () => {
  let sandbox: NatsSandbox;
  beforeAll(async () => {
    sandbox = await natsSandbox(['scans']);
  });
  afterAll(async () => {
    await sandbox?.close();
  });

  it('stores a message published twice with the same id once', async () => {
    const js = jetstream(sandbox.nc);
    const msg = scanRequest();
    const subject = sandbox.subjects.scan(msg.host, msg.guest);
    const first = await publishMessage(js, subject, msg);
    const second = await publishMessage(js, subject, msg);
    expect(first.duplicate).toBe(false);
    expect(second.duplicate).toBe(true);
    expect(second.seq).toBe(first.seq);

    const other = await publishMessage(js, subject, scanRequest());
    expect(other.duplicate).toBe(false);

    const jsm = await jetstreamManager(sandbox.nc);
    const info = await jsm.streams.info(sandbox.streams[0]?.name ?? '');
    expect(info.state.messages).toBe(2);
    const stored = await jsm.streams.getMessage(info.config.name, { seq: first.seq });
    expect(stored?.header.get('Nats-Msg-Id')).toBe(msg.id);
    expect(stored?.header.get('Vmi-Schema')).toBe('scan-request');
    expect(stored?.json()).toEqual(msg);
  });

  it('refuses to publish a message its validator rejects', async () => {
    const js = jetstream(sandbox.nc);
    const bad = { ...scanRequest(), reason: 'because' };
    await expect(
      publishMessage(js, sandbox.subjects.scan('hv-01', 'web-1'), bad, { validator: validators.scanRequest }),
    ).rejects.toMatchObject({
      code: 'VMI_ERR_VALIDATION',
      path: '/reason',
    });
  });
});
