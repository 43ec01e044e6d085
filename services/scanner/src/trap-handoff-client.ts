import { connect, type Socket } from 'node:net';
import { type TrapEvent, type Verdict, validators } from '@vmi/contracts';
import { LineSplitter, type Logger } from '@vmi/service-runtime';

/** A trap event is a few KiB of JSON; a line longer than this is not one, and the stream is dropped. */
const MAX_LINE_BYTES = 256 * 1024;
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2000;

/** The trace context an event came with (W3C `traceparent` and `tracestate`). */
export type HandoffTrace = Readonly<Record<'traceparent' | 'tracestate', string | undefined>>;

const MAX_TRACE_VALUE = 512;

function traceOf(value: unknown): HandoffTrace {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('trace must be an object');
  const t = value as Record<string, unknown>;
  const field = (key: string): string | undefined => {
    const v = t[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'string' || v.length > MAX_TRACE_VALUE) throw new Error(`trace.${key} must be a string of at most ${MAX_TRACE_VALUE}`);
    return v;
  };
  return { traceparent: field('traceparent'), tracestate: field('tracestate') };
}

/**
 * Takes trap events straight from this host's agent over its handoff socket (see the agent's
 * TrapHandoff): one JSON line per event, `{"trace": {...}, "event": <trap event>}`, each valid one
 * passed on as a fast copy with its trace context. Everything read is validated like any message
 * from outside; a bad line is counted and skipped, an oversized one ends the connection. While the agent is away it reconnects, backing off to 2 s:
 * traps meanwhile come by the other paths.
 */
export class TrapHandoffClient {
  private socket: Socket | null = null;
  private timer: NodeJS.Timeout | undefined;
  private retryMs = RETRY_MIN_MS;
  private stopped = false;
  private wasConnected = false;
  readonly counters = { received: 0, refused: 0, verdicts: 0 };

  constructor(
    private readonly path: string,
    private readonly onEvent: (event: TrapEvent, trace: HandoffTrace) => void,
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
    const lines = new LineSplitter(MAX_LINE_BYTES, (line) => this.line(line));
    socket.on('connect', () => {
      this.retryMs = RETRY_MIN_MS;
      this.wasConnected = true;
      this.logger.info({ path: this.path }, 'taking traps from the agent handoff');
    });
    socket.on('data', (chunk: Buffer) => {
      if (lines.push(chunk)) return;
      this.counters.refused += 1;
      this.logger.warn({ maxBytes: MAX_LINE_BYTES }, 'trap handoff line too long; reconnecting');
      socket.destroy();
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
    let event: TrapEvent;
    let trace: HandoffTrace;
    try {
      const frame: unknown = JSON.parse(bytes.toString('utf8'));
      if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) throw new Error('a line must be a JSON object');
      const { trace: t, event: e } = frame as Record<string, unknown>;
      trace = traceOf(t ?? {});
      event = validators.trapEvent.parse(e);
    } catch (err) {
      this.counters.refused += 1;
      this.logger.warn({ err: (err as Error).message }, 'trap handoff line refused');
      return;
    }
    this.counters.received += 1;
    this.onEvent(event, trace);
  }

  /**
   * Hands a verdict back to the agent that holds its trap's vCPU: one line,
   * `{"verdict": <verdict>}`, ahead of the verdict's JetStream record. False when not connected.
   */
  handBack(verdict: Verdict): boolean {
    const socket = this.socket;
    if (socket === null || !this.connected || !socket.writable) return false;
    socket.write(`${JSON.stringify({ verdict })}\n`);
    this.counters.verdicts += 1;
    return true;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.socket?.destroy();
    this.socket = null;
  }
}
