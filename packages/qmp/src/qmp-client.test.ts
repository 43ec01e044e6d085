import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GuestErrors, isVmiError } from '@vmi/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cont, queryMemdev, queryStatus, quit, sendKeys, stop, typeText } from './index.js';
import { QmpClient } from './qmp-client.js';

// A real QEMU with no guest kernel: firmware only, started paused. Enough to exercise every
// monitor command the client wraps, in well under a second.
let dir: string;
let qemu: ChildProcess;
let qemuExit: Promise<number | null>;
let client: QmpClient;

function startQemu(): ChildProcess {
  const child = spawn(
    'qemu-system-x86_64',
    [
      ...['-accel', 'tcg', '-S', '-display', 'none', '-monitor', 'none', '-serial', 'none', '-m', '16M'],
      ...['-object', `memory-backend-file,id=mem,size=16M,mem-path=${join(dir, 'ram')},share=on`, '-machine', 'q35,memory-backend=mem'],
      ...['-qmp', `unix:${join(dir, 'qmp0.sock')},server=on,wait=off`, '-qmp', `unix:${join(dir, 'qmp1.sock')},server=on,wait=off`],
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  qemuExit = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  return child;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vmi-qmp-test-'));
  qemu = startQemu();
  client = await QmpClient.connect(join(dir, 'qmp0.sock'), { connectTimeoutMs: 15_000 });
});

afterAll(async () => {
  await client?.close();
  if (qemu && qemu.exitCode === null && qemu.signalCode === null) qemu.kill('SIGKILL');
  await qemuExit;
  rmSync(dir, { recursive: true, force: true });
});

describe('QmpClient against a real QEMU', () => {
  it('reads the greeting and leaves negotiation mode', () => {
    expect(client.greeting.version.qemu.major).toBeGreaterThanOrEqual(7);
    expect(client.stats().garbageLines).toBe(0);
  });

  it('reports run state, pauses and resumes, with STOP and RESUME events', async () => {
    expect(await queryStatus(client)).toEqual({ running: false, status: 'prelaunch' });
    const resumed = client.waitForEvent('RESUME', { timeoutMs: 5_000 });
    await cont(client);
    expect((await resumed).timestampUs).toBeGreaterThan(0);
    expect((await queryStatus(client)).running).toBe(true);
    const stopped = client.waitForEvent('STOP', { timeoutMs: 5_000 });
    await stop(client);
    await stopped;
    expect(await queryStatus(client)).toEqual({ running: false, status: 'paused' });
  });

  it('shows the shared RAM backend', async () => {
    const memdevs = await queryMemdev(client);
    expect(memdevs).toEqual([expect.objectContaining({ id: 'mem', size: 16 * 1024 * 1024, share: true })]);
  });

  it('turns a QEMU error reply into QMP_COMMAND and keeps the connection usable', async () => {
    const error = await client.execute('no-such-command').catch((e: unknown) => e);
    expect(isVmiError(error, GuestErrors.QMP_COMMAND.code)).toBe(true);
    expect((error as { details: { errorClass: string } }).details.errorClass).toBe('CommandNotFound');
    const badKey = await sendKeys(client, ['notakey']).catch((e: unknown) => e);
    expect(isVmiError(badKey, GuestErrors.QMP_COMMAND.code)).toBe(true);
    // QEMU accepts input events only while the vCPUs run.
    const whilePaused = await sendKeys(client, ['a']).catch((e: unknown) => e);
    expect((whilePaused as { details: { desc: string } }).details.desc).toMatch(/not running/);
    await cont(client);
    await sendKeys(client, ['shift', 'a']);
    await typeText(client, 'Hi there!\n');
    await stop(client);
    expect((await queryStatus(client)).status).toBe('paused');
  });

  it('refuses malformed input before it reaches QEMU', async () => {
    const error = await client.execute('bad name; quit').catch((e: unknown) => e);
    expect(isVmiError(error, GuestErrors.INVALID_ARGUMENT.code)).toBe(true);
    await expect(typeText(client, 'caf\u00e9')).rejects.toMatchObject({ code: GuestErrors.INVALID_ARGUMENT.code });
  });

  it('times out a command while QEMU is frozen and discards the late reply', async () => {
    const before = client.stats().unmatchedReplies;
    qemu.kill('SIGSTOP');
    try {
      const error = await client.execute('query-status', undefined, { timeoutMs: 200 }).catch((e: unknown) => e);
      expect(isVmiError(error, GuestErrors.QMP_TIMEOUT.code)).toBe(true);
    } finally {
      qemu.kill('SIGCONT');
    }
    // The next reply must be matched to its own command, not to the timed-out one.
    expect(await queryStatus(client)).toEqual({ running: false, status: 'paused' });
    expect(client.stats().unmatchedReplies).toBe(before + 1);
  });

  it('serves a second monitor socket at the same time, but only one client per socket', async () => {
    const second = await QmpClient.connect(join(dir, 'qmp1.sock'), { connectTimeoutMs: 5_000 });
    try {
      expect((await queryStatus(second)).status).toBe('paused');
      const third = await QmpClient.connect(join(dir, 'qmp1.sock'), { connectTimeoutMs: 500 }).catch((e: unknown) => e);
      expect(isVmiError(third, GuestErrors.QMP_CONNECT.code)).toBe(true);
    } finally {
      await second.close();
    }
  });

  it('fails to connect to a missing socket with QMP_CONNECT', async () => {
    const error = await QmpClient.connect(join(dir, 'absent.sock'), { connectTimeoutMs: 200 }).catch((e: unknown) => e);
    expect(isVmiError(error, GuestErrors.QMP_CONNECT.code)).toBe(true);
  });

  it('quits QEMU, fails later commands with QMP_CLOSED', async () => {
    const shutdown = client.waitForEvent('SHUTDOWN', { timeoutMs: 5_000 }).catch(() => undefined);
    await quit(client);
    await shutdown;
    expect(await qemuExit).toBe(0);
    await new Promise((resolve) => (client.closed ? resolve(undefined) : client.once('close', () => resolve(undefined))));
    await expect(queryStatus(client)).rejects.toMatchObject({ code: GuestErrors.QMP_CLOSED.code });
  });
});

describe('QmpClient against a hostile peer', () => {
  it('counts garbage, ignores unknown replies and still completes the handshake and commands', async () => {
    const path = join(dir, 'hostile.sock');
    const server = net.createServer((socket) => {
      socket.write(
        '\u0000\u0001garbage\n[1,2]\n{"QMP":{"version":{"qemu":{"major":9,"minor":0,"micro":0},"package":""},"capabilities":[]}}\n',
      );
      let buffered = '';
      socket.on('data', (chunk) => {
        buffered += chunk.toString();
        for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
          const request = JSON.parse(buffered.slice(0, nl)) as { id: number };
          buffered = buffered.slice(nl + 1);
          // An unrelated reply, a half line, then the real answer split in two writes.
          socket.write(`{"return":{},"id":999}\n{"event":"X","data":{"n":1}}\n{"retu`);
          socket.write(`rn":{"echo":${request.id}},"id":${request.id}}\n`);
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    try {
      const hostile = await QmpClient.connect(path, { connectTimeoutMs: 2_000 });
      const garbage: string[] = [];
      hostile.on('garbage', (reason) => garbage.push(reason));
      const reply = await hostile.execute<{ echo: number }>('query-status');
      expect(reply.echo).toBeGreaterThan(1);
      const stats = hostile.stats();
      expect(stats.garbageLines).toBe(2);
      expect(stats.unmatchedReplies).toBe(2);
      expect(stats.eventsReceived).toBe(2);
      await hostile.close();
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
