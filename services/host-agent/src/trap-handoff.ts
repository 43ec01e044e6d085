import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { TrapEvent } from '@vmi/contracts';
import type { Logger } from '@vmi/service-runtime';

const TRACE_KEYS = ['traceparent', 'tracestate'] as const;
/** A scanner that reads slower than this much buffered output gets no more copies until it catches up. */
const MAX_BUFFERED_BYTES = 1 << 20;

/**
 * Hands each trap event straight to a scanner on this host, over a Unix socket, beside its
 * JetStream publish. A scanner on the guest's host is the only one that can check the trap, and
 * one local write reaches it sooner than the broker can (a publish, the server's processing and a
 * delivery): on the detection path that is a hop less. The copy is a shortcut, never the record:
 * the JetStream event is what the scanner acknowledges, so a copy lost here (no scanner connected,
 * one too far behind, a reconnect) costs only time. Each event goes to one connected scanner in
 * turn as one line of JSON, `{"trace": {traceparent, tracestate}, "event": <trap event>}`, so the
 * trace runs on through the scanner as it does through NATS headers; the socket is the agent's
 * user's alone (0600).
 */
export class TrapHandoff {
  private readonly clients: Socket[] = [];
  private next = 0;
  readonly counters = { sent: 0, skipped: 0 };

  private constructor(
    private readonly server: Server,
    readonly path: string,
  ) {}

  static async listen(path: string, logger: Logger): Promise<TrapHandoff> {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // A socket left by an agent that died: nothing listens on it any more.
    rmSync(path, { force: true });
    const server = createServer();
    const handoff = new TrapHandoff(server, path);
    server.on('connection', (socket) => handoff.accept(socket, logger));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(path, 0o600);
    server.on('error', (err) => logger.warn({ err: err.message }, 'trap handoff socket error'));
    logger.info({ path }, 'handing traps to local scanners');
    return handoff;
  }

  private accept(socket: Socket, logger: Logger): void {
    // Scanners only read; anything they send is ignored, and a stalled one is skipped (see send).
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const at = this.clients.indexOf(socket);
      if (at >= 0) this.clients.splice(at, 1);
      logger.info({ scanners: this.clients.length }, 'a scanner left the trap handoff');
    });
    this.clients.push(socket);
    logger.info({ scanners: this.clients.length }, 'a scanner joined the trap handoff');
  }

  get scanners(): number {
    return this.clients.length;
  }

  /** Writes the event (with the trace headers of its publish) to the next scanner able to take it; false when none could. */
  send(event: TrapEvent, headers: Readonly<Record<string, string>>): boolean {
    const trace: Record<string, string> = {};
    for (const key of TRACE_KEYS) if (headers[key] !== undefined) trace[key] = headers[key];
    const line = `${JSON.stringify({ trace, event })}\n`;
    for (let tried = 0; tried < this.clients.length; tried++) {
      const socket = this.clients[this.next++ % this.clients.length];
      if (socket === undefined || !socket.writable || socket.writableLength > MAX_BUFFERED_BYTES) continue;
      socket.write(line);
      this.counters.sent += 1;
      return true;
    }
    this.counters.skipped += 1;
    return false;
  }

  async close(): Promise<void> {
    for (const socket of this.clients.splice(0)) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    rmSync(this.path, { force: true });
  }
}
