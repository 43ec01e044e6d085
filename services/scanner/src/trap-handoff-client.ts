import { connect, type Socket } from 'node:net';
import { type TrapEvent, validators } from '@vmi/contracts';
import type { Logger } from '@vmi/service-runtime';

/** A trap event is a few KiB of JSON; a line longer than this is not one, and the stream is dropped. */
const MAX_LINE_BYTES = 256 * 1024;
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2000;

/**
 * Takes trap events straight from this host's agent over its handoff socket (see the agent's
 * TrapHandoff), newline-delimited JSON, and passes each valid one on as a fast copy. Everything
 * read is validated like any message from outside; a bad line is counted and skipped, an
 * oversized one ends the connection. While the agent is away it reconnects, backing off to 2 s:
 * traps meanwhile come by the other paths.
 */
export class TrapHandoffClient {
  private socket: Socket | null = null;
  private timer: NodeJS.Timeout | undefined;
  private retryMs = RETRY_MIN_MS;
  private stopped = false;
  private wasConnected = false;
  readonly counters = { received: 0, refused: 0 };

  constructor(
    private readonly path: string,
    private readonly onEvent: (event: TrapEvent) => void,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.open();
  }

  get connected(): boolean {
    return this.socket !== null && !this.socket.connecting && !this.socket.destroyed;
  }

  private open(): void {
    if (this.stopped) return;
    const socket = connect(this.path);
    this.socket = socket;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    socket.on('connect', () => {
      this.retryMs = RETRY_MIN_MS;
      this.wasConnected = true;
      this.logger.info({ path: this.path }, 'taking traps from the agent handoff');
    });
    socket.on('data', (chunk: Buffer) => {
      let start = 0;
      for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
        const part = chunk.subarray(start, nl);
        const line = pendingBytes === 0 ? part : Buffer.concat([...pending, part]);
        pending = [];
        pendingBytes = 0;
        start = nl + 1;
        this.line(line);
      }
      if (start < chunk.length) {
        pending.push(chunk.subarray(start));
        pendingBytes += chunk.length - start;
        if (pendingBytes > MAX_LINE_BYTES) {
          this.counters.refused += 1;
          this.logger.warn({ bytes: pendingBytes }, 'trap handoff line too long; reconnecting');
          socket.destroy();
        }
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (this.socket === socket) this.socket = null;
      if (this.stopped) return;
      if (this.wasConnected) this.logger.info({ path: this.path }, 'trap handoff closed; reconnecting');
      this.wasConnected = false;
      this.timer = setTimeout(() => this.open(), this.retryMs);
      this.timer.unref();
      this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
    });
  }

  private line(bytes: Buffer): void {
    if (bytes.length === 0) return;
    let event: TrapEvent;
    try {
      event = validators.trapEvent.decode(bytes);
    } catch (err) {
      this.counters.refused += 1;
      this.logger.warn({ err: (err as Error).message }, 'trap handoff line refused');
      return;
    }
    this.counters.received += 1;
    this.onEvent(event);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.socket?.destroy();
    this.socket = null;
  }
}
