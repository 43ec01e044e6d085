import { createHash, randomBytes } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { type BaselineRecord, EXAMPLES, type ProtectedGuestRecord, protectionKv } from '@vmi/contracts';
import { connectNats, createLogger } from '@vmi/service-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProtectionView } from './protection-view.js';

const prefix = `t${randomBytes(5).toString('hex')}`;
const logger = createLogger({ service: 'test', level: 'silent' });
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
let nc: Awaited<ReturnType<typeof connectNats>>;
let view: ProtectionView;

function goodExample<T>(key: 'protected-guest-record' | 'baseline-record'): T {
  const examples = EXAMPLES[key];
  if (examples === undefined) throw new Error(`no example of ${key}`);
  return structuredClone(examples.good) as T;
}
const guestRecord = goodExample<ProtectedGuestRecord>('protected-guest-record');
const baselineExample = goodExample<BaselineRecord>('baseline-record');

function baseline(object: string, bytes: Buffer, overrides: Partial<BaselineRecord> = {}): BaselineRecord {
  return {
    ...baselineExample,
    guest: guestRecord.guest,
    object,
    length: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    bytes_base64: bytes.toString('base64'),
    ...overrides,
  };
}

beforeAll(async () => {
  nc = await connectNats({ servers: NATS_URL, name: `test-${prefix}`, logger });
  view = await ProtectionView.open(jetstream(nc), prefix, logger, () => undefined);
});

afterAll(async () => {
  view?.close();
  await new Kvm(nc)
    .create(protectionKv.bucket(prefix))
    .then((kv) => kv.destroy())
    .catch(() => undefined);
  await nc?.drain();
});

describe('the protection view', () => {
  it('keeps baselines whose bytes match their length and hash, and refuses and counts the others', async () => {
    const kv = await new Kvm(jetstream(nc)).open(protectionKv.bucket(prefix));
    const guest = guestRecord.guest;
    const put = (r: BaselineRecord) => kv.put(protectionKv.regionKey(guest, r.object), JSON.stringify(r));
    const revision = view.revision;
    await kv.put(protectionKv.guestKey(guest), JSON.stringify(guestRecord));
    const bytes = Buffer.from('/sbin/modprobe\0\0');
    await put(baseline('good', bytes));
    await put(baseline('short', bytes, { length: bytes.length + 1 }));
    await put(baseline('forged', bytes, { sha256: 'e'.repeat(64) }));
    await view.until(() => view.rejected === 2 && view.guest(guest)?.objects.has('good') === true, 10_000);
    expect([...(view.guest(guest)?.objects.keys() ?? [])]).toEqual(['good']);
    expect(view.guest(guest)?.objects.get('good')?.baseline).toEqual(bytes);
    expect(view.revision).toBeGreaterThan(revision);
  });
});
