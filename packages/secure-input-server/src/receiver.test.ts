import { type CipherSuiteName, newId, type SealedRecord, type SecureInputBatch } from '@vmi/contracts';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromBase64Url, toBase64Url } from './base64url.js';
import { encodeKeyRecord } from './key-records.js';
import { keysToText, textToKeys } from './keymap.js';
import { SecureInputReceiver } from './receiver.js';
import { RecordSealer } from './sealer.js';
import { DEFAULT_SUITE, exportPublicKey, generateKeyPair, type HpkeKeyPair, publicKeyId } from './suite.js';

let server: HpkeKeyPair;
let gateway: HpkeKeyPair;
let gatewayPublic: string;
let serverPublic: string;

beforeAll(async () => {
  server = await generateKeyPair();
  gateway = await generateKeyPair();
  gatewayPublic = await exportPublicKey(gateway.publicKey);
  serverPublic = await exportPublicKey(server.publicKey);
});

interface Sender {
  readonly id: string;
  readonly sealer: RecordSealer;
  readonly keyId: string;
  batch(records: SealedRecord[]): SecureInputBatch;
  seal(text: string): SealedRecord;
}

async function sender(senderKey: HpkeKeyPair = gateway, application = 'bank-app', suite: CipherSuiteName = DEFAULT_SUITE): Promise<Sender> {
  const id = newId();
  const sealer = await RecordSealer.create({
    suite,
    serverPublicKey: serverPublic,
    senderKey,
    connectionId: id,
    application,
  });
  const keyId = publicKeyId(await exportPublicKey(senderKey.publicKey));
  return {
    id,
    sealer,
    keyId,
    batch: (records) => ({
      version: 1,
      connection_id: id,
      application,
      suite,
      sender_key_id: keyId,
      enc: sealer.enc,
      records,
    }),
    seal: (text) => sealer.seal(encodeKeyRecord(textToKeys(text))),
  };
}

function receiver(): SecureInputReceiver {
  return new SecureInputReceiver({ serverKeyPair: server, gatewayPublicKeys: [gatewayPublic] });
}

function textOf(result: { delivered: { keys: Parameters<typeof keysToText>[0] }[] }): string {
  return result.delivered.map((d) => keysToText(d.keys)).join('');
}

function flipByte(ct: string, index: number): string {
  const bytes = fromBase64Url(ct)?.slice() ?? new Uint8Array();
  bytes[index] = (bytes[index] ?? 0) ^ 0x01;
  return toBase64Url(bytes);
}

describe('secure input records at the server side', () => {
  it('hands authenticated records to the application exactly once, in order', async () => {
    const rx = receiver();
    const tx = await sender();
    const records = [tx.seal('Hello, '), tx.seal('World! '), tx.seal('p@ss_W0rd')];
    const result = await rx.accept(tx.batch(records));
    expect(result.error).toBeNull();
    expect(result.delivered.map((d) => d.seq)).toEqual([1, 2, 3]);
    expect(textOf(result)).toBe('Hello, World! p@ss_W0rd');
    expect(result.ack).toEqual({ connection_id: tx.id, acked_seq: 3, accepted: 3, replayed: 0 });
  });

  it('speaks every supported AEAD', async () => {
    for (const aead of ['AES-256-GCM', 'AES-128-GCM', 'CHACHA20-POLY1305']) {
      const rx = receiver();
      const tx = await sender(gateway, 'bank-app', { ...DEFAULT_SUITE, aead });
      const result = await rx.accept(tx.batch([tx.seal('abc'), tx.seal('DEF')]));
      expect(result.error, aead).toBeNull();
      expect(textOf(result), aead).toBe('abcDEF');
      // A record sealed under one AEAD does not open as another.
      const other = {
        ...tx.batch([tx.seal('x')]),
        suite: { ...DEFAULT_SUITE, aead: aead === 'AES-256-GCM' ? 'CHACHA20-POLY1305' : 'AES-256-GCM' },
      };
      expect((await rx.accept(other)).error?.code, aead).toBe('VMI_ERR_INPUT_CONTEXT_MISMATCH');
    }
  });

  it('drops replayed records and acknowledges them without delivering them again', async () => {
    const rx = receiver();
    const tx = await sender();
    const first = tx.seal('abc');
    const second = tx.seal('def');
    expect((await rx.accept(tx.batch([first, second]))).delivered).toHaveLength(2);
    const replay = await rx.accept(tx.batch([second]));
    expect(replay.delivered).toEqual([]);
    expect(replay.ack).toMatchObject({ acked_seq: 2, accepted: 0, replayed: 1 });
    // A retransmission that overlaps what was accepted delivers only the new record.
    const third = tx.seal('ghi');
    const overlap = await rx.accept(tx.batch([first, second, third]));
    expect(textOf(overlap)).toBe('ghi');
    expect(overlap.ack).toMatchObject({ acked_seq: 3, accepted: 1, replayed: 2 });
    expect(rx.stats.replayed).toBe(3);
  });

  it('refuses records out of order and opens nothing past the gap', async () => {
    const rx = receiver();
    const tx = await sender();
    const [one, two, three] = [tx.seal('1'), tx.seal('2'), tx.seal('3')];
    const early = await rx.accept(tx.batch([two]));
    expect(early.error?.code).toBe('VMI_ERR_INPUT_OUT_OF_ORDER');
    expect(early.delivered).toEqual([]);
    const gap = await rx.accept(tx.batch([one, three]));
    expect(gap.error?.code).toBe('VMI_ERR_INPUT_OUT_OF_ORDER');
    expect(gap.delivered).toEqual([]);
    // Moving a record to another place breaks its AAD, so it cannot be slipped in renumbered.
    const renumbered = await rx.accept(tx.batch([{ seq: 1, ct: two.ct }]));
    expect(renumbered.error?.code).toBe('VMI_ERR_INPUT_RECORD_AUTH');
    const inOrder = await rx.accept(tx.batch([one, two, three]));
    expect(inOrder.error).toBeNull();
    expect(textOf(inOrder)).toBe('123');
  });

  it('refuses truncated and tampered records without losing its place', async () => {
    const rx = receiver();
    const tx = await sender();
    const record = tx.seal('secret');
    const bytes = fromBase64Url(record.ct) ?? new Uint8Array();
    const shortest = await rx.accept(tx.batch([{ seq: 1, ct: toBase64Url(bytes.subarray(0, 10)) }]));
    expect(shortest.error?.code).toBe('VMI_ERR_INPUT_RECORD_MALFORMED');
    const oneShort = await rx.accept(tx.batch([{ seq: 1, ct: toBase64Url(bytes.subarray(0, bytes.byteLength - 1)) }]));
    expect(oneShort.error?.code).toBe('VMI_ERR_INPUT_RECORD_AUTH');
    const flippedBody = await rx.accept(tx.batch([{ seq: 1, ct: flipByte(record.ct, 0) }]));
    expect(flippedBody.error?.code).toBe('VMI_ERR_INPUT_RECORD_AUTH');
    const flippedTag = await rx.accept(tx.batch([{ seq: 1, ct: flipByte(record.ct, bytes.byteLength - 1) }]));
    expect(flippedTag.error?.code).toBe('VMI_ERR_INPUT_RECORD_AUTH');
    const notBase64 = await rx.accept({ ...tx.batch([record]), records: [{ seq: 1, ct: `${record.ct}!` }] });
    expect(notBase64.error?.code).toBe('VMI_ERR_VALIDATION');
    const intact = await rx.accept(tx.batch([record]));
    expect(intact.error).toBeNull();
    expect(textOf(intact)).toBe('secret');
  });

  it('accepts records only from a pinned gateway key', async () => {
    const rx = receiver();
    const stranger = await generateKeyPair();
    const unpinned = await sender(stranger);
    const unknown = await rx.accept(unpinned.batch([unpinned.seal('x')]));
    expect(unknown.error?.code).toBe('VMI_ERR_INPUT_UNKNOWN_SENDER');
    // A stranger claiming the pinned gateway's key id cannot produce records that open.
    const impostor = await sender(stranger);
    const forged = await rx.accept({ ...impostor.batch([impostor.seal('x')]), sender_key_id: publicKeyId(gatewayPublic) });
    expect(forged.error?.code).toBe('VMI_ERR_INPUT_RECORD_AUTH');
    expect(forged.delivered).toEqual([]);
  });

  it('binds a connection to its first context and refuses records after it ended', async () => {
    const rx = receiver();
    const tx = await sender();
    await rx.accept(tx.batch([tx.seal('a')]));
    const other = await sender();
    const swapped = await rx.accept({ ...tx.batch([tx.seal('b')]), enc: other.sealer.enc });
    expect(swapped.error?.code).toBe('VMI_ERR_INPUT_CONTEXT_MISMATCH');
    // A record of one connection cannot be opened in another.
    const moved = await rx.accept(other.batch([{ seq: 1, ct: tx.seal('c').ct }]));
    expect(moved.error?.code).toBe('VMI_ERR_INPUT_RECORD_AUTH');
    rx.end(tx.id);
    const late = await rx.accept(tx.batch([tx.seal('d')]));
    expect(late.error?.code).toBe('VMI_ERR_INPUT_CONNECTION_ENDED');
  });

  it('refuses a server key that is not a usable X25519 key', async () => {
    const make = (serverPublicKey: string) =>
      RecordSealer.create({ suite: DEFAULT_SUITE, serverPublicKey, senderKey: gateway, connectionId: newId(), application: 'a' });
    await expect(make('AAAA')).rejects.toMatchObject({ code: 'VMI_ERR_INPUT_MALFORMED_KEY' });
    await expect(make(toBase64Url(new Uint8Array(32)))).rejects.toMatchObject({ code: 'VMI_ERR_INPUT_MALFORMED_KEY' });
    await expect(
      RecordSealer.create({
        suite: { ...DEFAULT_SUITE, aead: 'AES-256-SIV' },
        serverPublicKey: serverPublic,
        senderKey: gateway,
        connectionId: newId(),
        application: 'a',
      }),
    ).rejects.toMatchObject({ code: 'VMI_ERR_INPUT_UNSUPPORTED_ALGORITHM', path: '/suite/aead' });
  });
});
