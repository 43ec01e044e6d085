import net from 'node:net';
import { ensureGuestImage, imageVirtToPhys, symbolAddress } from '@vmi/guest';
import { QmpClient, queryStatus } from '@vmi/qmp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, type Harness, startHarness, testGuestImage } from './test-support.js';

/** Sends bytes on a UNIX socket and collects what comes back until `done` says enough. */
function converse(path: string, send: string[], done: (received: string) => boolean, timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ path });
    let received = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer on ${path}; got ${JSON.stringify(received)}`));
    }, timeoutMs);
    socket.on('connect', () => {
      for (const s of send) socket.write(s);
    });
    socket.on('data', (d) => {
      received += d.toString('latin1');
      if (done(received)) {
        clearTimeout(timer);
        socket.end();
        resolve(received);
      }
    });
    socket.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** Reads guest-physical bytes through the introspection reader's socket. */
function readThroughReader(path: string, offset: bigint, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ path });
    const request = Buffer.alloc(16);
    request.writeBigUInt64LE(offset, 0);
    request.writeBigUInt64LE(BigInt(length), 8);
    let data = Buffer.alloc(0);
    socket.on('connect', () => socket.write(request));
    socket.on('data', (d) => {
      data = Buffer.concat([data, d]);
      if (data.length >= 8 && data.length >= 8 + Number(data.readBigUInt64LE(0))) {
        socket.end();
        resolve(data.subarray(8, 8 + Number(data.readBigUInt64LE(0))));
      }
    });
    socket.on('error', reject);
  });
}

describe('the device model boots the guest and the host side can attach', () => {
  let h: Harness;
  let endpoints: Record<string, string>;
  const consoleLines: string[] = [];
  beforeAll(async () => {
    h = await startHarness();
    const sub = h.nc.subscribe(h.subjects.isolation('dm-1', 'console'));
    void (async () => {
      for await (const m of sub) consoleLines.push(...m.json<{ lines: string[] }>().lines);
    })();
    endpoints = (await h.registry.ensure('dm-1', await testGuestImage())).endpoints;
  });
  afterAll(async () => {
    await h?.close();
  });

  it('answers QMP on the host agent monitor socket', async () => {
    const qmp = await QmpClient.connect(endpoints.qmp_socket as string, { connectTimeoutMs: 5000 });
    try {
      expect((await queryStatus(qmp)).status).toBe('running');
    } finally {
      await qmp.close();
    }
  });

  it('serves the gdbstub on a UNIX socket', async () => {
    // `?` asks why the target stopped; attaching stopped it, so the answer is a stop reply. `c` resumes it.
    const reply = await converse(endpoints.gdb_socket as string, ['+$?#3f'], (r) => /\$[ST][0-9a-f]{2}/.test(r));
    expect(reply).toMatch(/\$[ST][0-9a-f]{2}/);
    await converse(endpoints.gdb_socket as string, ['+$c#63'], (r) => r.includes('+'));
  });

  it('boots the guest: its console reaches NATS through the log shipper, its memory the reader', async () => {
    await eventually(() => consoleLines.length > 0, 'console lines on NATS', 60_000);
    const image = await ensureGuestImage();
    const banner = imageVirtToPhys(image.profile, symbolAddress(image.profile, 'linux_banner'));
    const bytes = await readThroughReader(endpoints.reader_socket as string, banner, 64);
    expect(bytes.toString('latin1')).toMatch(/^Linux version 6\./);
  });
});
