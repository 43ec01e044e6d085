import { chmod, chown, unlink } from 'node:fs/promises';
import net from 'node:net';

export interface NatsRelay {
  readonly socket: string;
  readonly connections: () => number;
  close(): Promise<void>;
}

export interface NatsTarget {
  readonly host: string;
  readonly port: number;
  /** The service's own NATS credentials, added to the component's CONNECT by the relay. */
  readonly user?: string;
  readonly pass?: string;
}

/** `nats://host:port` (the first of a comma-separated list) as a TCP target. */
export function natsTarget(natsUrl: string, auth: { user?: string | undefined; pass?: string | undefined } = {}): NatsTarget {
  const first = (natsUrl.split(',')[0] ?? '').trim();
  const url = new URL(first.includes('://') ? first : `nats://${first}`);
  return {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port === '' ? 4222 : Number(url.port),
    ...(auth.user === undefined ? {} : { user: auth.user }),
    ...(auth.pass === undefined ? {} : { pass: auth.pass }),
  };
}

const MAX_CONNECT_LINE = 16 * 1024;

/**
 * Adds the relay's credentials to the first protocol line when it is a CONNECT, so components
 * never hold NATS credentials: a sandbox that leaks its memory leaks no password, and what the
 * connection may publish is bounded by the service user's permissions. Returns null until a whole
 * line has arrived, and throws on a first line that is not a CONNECT or is too long.
 */
export function withCredentials(firstBytes: Buffer, target: NatsTarget): { line: Buffer; rest: Buffer } | null {
  const end = firstBytes.indexOf('\r\n');
  if (end < 0) {
    if (firstBytes.length > MAX_CONNECT_LINE) throw new Error('CONNECT line too long');
    return null;
  }
  const line = firstBytes.subarray(0, end).toString('utf8');
  const rest = firstBytes.subarray(end + 2);
  const m = /^CONNECT\s+(\{.*\})\s*$/i.exec(line);
  if (m?.[1] === undefined) throw new Error('first protocol line is not CONNECT');
  const options = JSON.parse(m[1]) as Record<string, unknown>;
  delete options.user;
  delete options.pass;
  delete options.auth_token;
  if (target.user !== undefined) options.user = target.user;
  if (target.pass !== undefined) options.pass = target.pass;
  return { line: Buffer.from(`CONNECT ${JSON.stringify(options)}\r\n`), rest };
}

/**
 * A component's only way out: a UNIX socket in its relay resource whose every connection is piped to
 * the NATS server and nowhere else. The component's network namespace stays empty (no interface
 * but loopback, no IP sockets allowed by its filter), so it cannot choose another destination; what
 * it may publish is then a matter of NATS permissions for the connection.
 */
export async function startNatsRelay(socket: string, target: NatsTarget, gid: number): Promise<NatsRelay> {
  const open = new Set<net.Socket>();
  const server = net.createServer((inner) => {
    const outer = net.createConnection({ host: target.host, port: target.port });
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
    outer.pipe(inner);
    // Hold the component's bytes until its CONNECT line is complete, rewrite it, then pipe.
    let pending = Buffer.alloc(0);
    const onFirst = (chunk: Buffer): void => {
      pending = Buffer.concat([pending, chunk]);
      let rewritten: { line: Buffer; rest: Buffer } | null;
      try {
        rewritten = withCredentials(pending, target);
      } catch {
        done();
        return;
      }
      if (rewritten === null) return;
      inner.off('data', onFirst);
      outer.write(rewritten.line);
      if (rewritten.rest.length > 0) outer.write(rewritten.rest);
      inner.pipe(outer);
    };
    inner.on('data', onFirst);
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
