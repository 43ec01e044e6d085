import { chmod, chown, unlink } from 'node:fs/promises';
import net from 'node:net';

export interface NatsRelay {
  readonly socket: string;
  readonly connections: () => number;
  close(): Promise<void>;
}

/** `nats://host:port` (the first of a comma-separated list) as a TCP target. */
export function natsTarget(natsUrl: string): { host: string; port: number } {
  const first = (natsUrl.split(',')[0] ?? '').trim();
  const url = new URL(first.includes('://') ? first : `nats://${first}`);
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port === '' ? 4222 : Number(url.port) };
}

/**
 * A component's only way out: a UNIX socket in its relay resource whose every connection is piped to
 * the NATS server and nowhere else. The component's network namespace stays empty (no interface
 * but loopback, no IP sockets allowed by its filter), so it cannot choose another destination; what
 * it may publish is then a matter of NATS permissions for the connection.
 */
export async function startNatsRelay(socket: string, target: { host: string; port: number }, gid: number): Promise<NatsRelay> {
  const open = new Set<net.Socket>();
  const server = net.createServer((inner) => {
    const outer = net.createConnection(target);
    open.add(inner);
    open.add(outer);
    const done = () => {
      inner.destroy();
      outer.destroy();
      open.delete(inner);
      open.delete(outer);
    };
    inner.on('error', done).on('close', done);
    outer.on('error', done).on('close', done);
    inner.pipe(outer);
    outer.pipe(inner);
  });
  await unlink(socket).catch(() => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, () => {
      server.off('error', reject);
      resolve();
    });
  });
  await chown(socket, process.getuid?.() ?? 0, gid);
  await chmod(socket, 0o660);
  return {
    socket,
    connections: () => open.size / 2,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
