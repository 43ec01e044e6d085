import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { type TrapEvent, type Verdict, validators } from '@vmi/contracts';
import { LineSplitter, type Logger } from '@vmi/service-runtime';

const TRACE_KEYS = ['traceparent', 'tracestate'] as const;
/** A verdict is at most a few KiB of JSON; a longer line is not one, and that scanner is dropped. */
const MAX_VERDICT_LINE_BYTES = 16 * 1024;
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
 *
 * The other way, a scanner hands back the verdict of a held trap (enforce mode) as one line,
 * `{"verdict": <verdict>}`, ahead of its JetStream record, so the vCPU waits one broker trip less.
 * Each is validated like the record; a bad line is counted and skipped, an oversized one drops that
 * scanner. Whichever copy of a verdict comes first settles the hold; the other finds it settled.
 */
export class TrapHandoff {
  private readonly clients: Socket[] = [];
  private next = 0;
  readonly counters = { sent: 0, skipped: 0, verdicts: 0, refused: 0 };

  private constructor(
    private readonly server: Server,
    readonly path: string,
    private readonly onVerdict: (verdict: Verdict) => void,
    private readonly logger: Logger,
  ) {}

  static async listen(path: string, logger: Logger, onVerdict: (verdict: Verdict) => void): Promise<TrapHandoff> {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    // A socket left by an agent that died: nothing listens on it any more.
    rmSync(path, { force: true });
    const server = createServer();
    const handoff = new TrapHandoff(server, path, onVerdict, logger);
    server.on('connection', (socket) => handoff.accept(socket));
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

  private accept(socket: Socket): void {
    const logger = this.logger;
    const lines = new LineSplitter(MAX_VERDICT_LINE_BYTES, (line) => this.line(line));
    socket.on('data', (chunk: Buffer) => {
      if (lines.push(chunk)) return;
      this.refuse(`a line over ${MAX_VERDICT_LINE_BYTES} bytes; the scanner is dropped`);
      socket.destroy();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const at = this.clients.indexOf(socket);
      if (at >= 0) this.clients.splice(at, 1);
      logger.info({ scanners: this.clients.length }, 'a scanner left the trap handoff');
    });
    this.clients.push(socket);
    logger.info({ scanners: this.clients.length }, 'a scanner joined the trap handoff');
  }

  /** One line from a scanner: a held trap's verdict, validated before it may release a vCPU. */
  private line(bytes: Buffer): void {
    let verdict: Verdict;
    try {
      const frame: unknown = JSON.parse(bytes.toString('utf8'));
      if (typeof frame !== 'object' || frame === null || Array.isArray(frame) || !('verdict' in frame)) {
        throw new Error('a line must be a JSON object with a verdict');
      }
      verdict = validators.verdict.parse(frame.verdict);
    } catch (err) {
      this.refuse((err as Error).message);
      return;
    }
    this.counters.verdicts += 1;
    this.onVerdict(verdict);
  }

  private refuse(reason: string): void {
    this.counters.refused += 1;
    // The first and then every hundredth: a scanner gone wrong must not flood the log.
    if (this.counters.refused % 100 === 1) this.logger.warn({ reason, refused: this.counters.refused }, 'trap handoff line refused');
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
