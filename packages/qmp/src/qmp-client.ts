import { EventEmitter } from 'node:events';
import net from 'node:net';
import { GuestErrors, VmiError } from '@vmi/contracts';
import { DEFAULT_MAX_LINE_BYTES, JsonLineDecoder } from './json-lines.js';
import { classifyMessage, type QmpEvent, type QmpGreeting } from './messages.js';

export interface QmpConnectOptions {
  /**
   * How long to keep trying: the socket may not exist yet right after QEMU starts, and the greeting
   * must arrive within this time too (QEMU greets only one client per monitor socket).
   */
  readonly connectTimeoutMs?: number;
  /** Default timeout of `execute`. */
  readonly commandTimeoutMs?: number;
  readonly maxLineBytes?: number;
}

export interface QmpExecuteOptions {
  readonly timeoutMs?: number;
}

export interface QmpStats {
  readonly commandsSent: number;
  readonly eventsReceived: number;
  /** Lines that were not JSON or not a QMP document. */
  readonly garbageLines: number;
  /** Replies whose id matched no waiting command (e.g. answers that came after a timeout). */
  readonly unmatchedReplies: number;
}

export interface QmpClientEvents {
  event: [QmpEvent];
  garbage: [reason: string];
  close: [];
}

interface Pending {
  readonly command: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: VmiError) => void;
  readonly timer: NodeJS.Timeout;
}

const RETRYABLE_CONNECT_CODES = new Set(['ENOENT', 'ECONNREFUSED', 'EAGAIN']);
const COMMAND_NAME = /^[A-Za-z][A-Za-z0-9_-]*$/;

/**
 * One QMP monitor connection. Commands carry ids so replies can be matched even when a timed-out
 * command answers late; events are delivered through the `event` emitter and `waitForEvent`.
 */
export class QmpClient extends EventEmitter<QmpClientEvents> {
  private readonly decoder: JsonLineDecoder;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private isClosed = false;
  private readonly counters = { commandsSent: 0, eventsReceived: 0, garbageLines: 0, unmatchedReplies: 0 };
  private greetingWaiter: ((greeting: QmpGreeting) => void) | undefined;
  private receivedGreeting: QmpGreeting | undefined;

  private constructor(
    private readonly socket: net.Socket,
    readonly path: string,
    private readonly commandTimeoutMs: number,
    maxLineBytes: number,
  ) {
    super();
    this.decoder = new JsonLineDecoder(maxLineBytes);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => {
      // 'close' follows every 'error'; the pending commands are failed there.
    });
    socket.on('close', () => this.onClose());
  }

  /** Connects, waits for the greeting and leaves capabilities negotiation mode. */
  static async connect(path: string, options: QmpConnectOptions = {}): Promise<QmpClient> {
    const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
    const deadline = Date.now() + connectTimeoutMs;
    const socket = await connectWithRetry(path, deadline);
    const client = new QmpClient(socket, path, options.commandTimeoutMs ?? 10_000, options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
    try {
      await client.awaitGreeting(Math.max(1, deadline - Date.now()));
      await client.execute('qmp_capabilities', undefined, { timeoutMs: Math.max(1_000, deadline - Date.now()) });
      return client;
    } catch (error) {
      // No orderly shutdown: a peer that never greeted may never answer our FIN either.
      client.socket.destroy();
      throw error;
    }
  }

  get greeting(): QmpGreeting {
    if (!this.receivedGreeting) throw new VmiError(GuestErrors.QMP_PROTOCOL, 'no greeting received');
    return this.receivedGreeting;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  stats(): QmpStats {
    return { ...this.counters };
  }

  /** Runs one QMP command and resolves with its `return` value. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, options: QmpExecuteOptions = {}): Promise<T> {
    if (!COMMAND_NAME.test(command)) {
      return Promise.reject(new VmiError(GuestErrors.INVALID_ARGUMENT, 'QMP command name must be an identifier', { path: '/command' }));
    }
    if (this.isClosed) return Promise.reject(new VmiError(GuestErrors.QMP_CLOSED, command, { details: { command } }));
    const id = this.nextId++;
    const timeoutMs = options.timeoutMs ?? this.commandTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new VmiError(GuestErrors.QMP_TIMEOUT, `${command} after ${timeoutMs} ms`, { details: { command, timeoutMs } }));
      }, timeoutMs);
      this.pending.set(id, { command, resolve: resolve as (value: unknown) => void, reject, timer });
      const message = args === undefined ? { execute: command, id } : { execute: command, arguments: args, id };
      this.counters.commandsSent++;
      this.socket.write(`${JSON.stringify(message)}\n`);
    });
  }

  /** Resolves with the next event of that name (optionally matching `predicate`). */
  waitForEvent(name: string, options: { timeoutMs?: number; predicate?: (event: QmpEvent) => boolean } = {}): Promise<QmpEvent> {
    const timeoutMs = options.timeoutMs ?? this.commandTimeoutMs;
    return new Promise<QmpEvent>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off('event', onEvent);
        this.off('close', onClose);
      };
      const onEvent = (event: QmpEvent): void => {
        if (event.event !== name || (options.predicate && !options.predicate(event))) return;
        cleanup();
        resolve(event);
      };
      const onClose = (): void => {
        cleanup();
        reject(new VmiError(GuestErrors.QMP_CLOSED, `while waiting for event ${name}`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new VmiError(GuestErrors.QMP_TIMEOUT, `event ${name} after ${timeoutMs} ms`, { details: { event: name, timeoutMs } }));
      }, timeoutMs);
      if (this.isClosed) {
        onClose();
        return;
      }
      this.on('event', onEvent);
      this.on('close', onClose);
    });
  }

  /** Closes the connection; waiting commands fail with QMP_CLOSED. Safe to call more than once. */
  async close(): Promise<void> {
    if (this.socket.destroyed) {
      this.onClose();
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.socket.destroy(), 1_000);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.end();
    });
  }

  private awaitGreeting(timeoutMs: number): Promise<QmpGreeting> {
    if (this.receivedGreeting) return Promise.resolve(this.receivedGreeting);
    return new Promise<QmpGreeting>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.greetingWaiter = undefined;
        this.off('close', onClose);
        reject(
          new VmiError(GuestErrors.QMP_CONNECT, `no greeting within ${timeoutMs} ms (is another client holding this monitor?)`, {
            details: { path: this.path },
          }),
        );
      }, timeoutMs);
      const onClose = (): void => {
        clearTimeout(timer);
        this.greetingWaiter = undefined;
        reject(new VmiError(GuestErrors.QMP_CONNECT, 'connection closed before the greeting', { details: { path: this.path } }));
      };
      this.once('close', onClose);
      this.greetingWaiter = (greeting) => {
        clearTimeout(timer);
        this.off('close', onClose);
        resolve(greeting);
      };
    });
  }

  private onData(chunk: Buffer): void {
    for (const line of this.decoder.push(chunk)) {
      if (!line.ok) {
        this.garbage(line.reason);
        continue;
      }
      const message = classifyMessage(line.value);
      switch (message.kind) {
        case 'greeting':
          if (this.receivedGreeting) {
            this.garbage('second greeting');
            break;
          }
          this.receivedGreeting = message.greeting;
          this.greetingWaiter?.(message.greeting);
          this.greetingWaiter = undefined;
          break;
        case 'event':
          this.counters.eventsReceived++;
          this.emit('event', message.event);
          break;
        case 'return':
          this.settle(message.id, (p) => p.resolve(message.value));
          break;
        case 'error':
          this.settle(message.id, (p) =>
            p.reject(
              new VmiError(GuestErrors.QMP_COMMAND, `${p.command}: ${message.errorClass}: ${message.desc}`, {
                details: { command: p.command, errorClass: message.errorClass, desc: message.desc },
              }),
            ),
          );
          break;
        case 'invalid':
          this.garbage(message.reason);
          break;
      }
    }
  }

  private settle(id: unknown, action: (pending: Pending) => void): void {
    const pending = typeof id === 'number' ? this.pending.get(id) : undefined;
    if (!pending) {
      this.counters.unmatchedReplies++;
      return;
    }
    this.pending.delete(id as number);
    clearTimeout(pending.timer);
    action(pending);
  }

  private garbage(reason: string): void {
    this.counters.garbageLines++;
    // Only the reason travels: the raw line could carry anything the peer echoed back.
    this.emit('garbage', reason);
  }

  private onClose(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const [id, pending] of this.pending) {
      this.pending.delete(id);
      clearTimeout(pending.timer);
      pending.reject(new VmiError(GuestErrors.QMP_CLOSED, pending.command, { details: { command: pending.command } }));
    }
    this.emit('close');
  }
}

async function connectWithRetry(path: string, deadline: number): Promise<net.Socket> {
  let lastError: unknown;
  for (;;) {
    try {
      return await connectOnce(path);
    } catch (error) {
      lastError = error;
      const code = (error as NodeJS.ErrnoException).code;
      if (!code || !RETRYABLE_CONNECT_CODES.has(code) || Date.now() >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  const code = (lastError as NodeJS.ErrnoException | undefined)?.code ?? 'unknown';
  throw new VmiError(GuestErrors.QMP_CONNECT, `${path}: ${code}`, { details: { path, code }, cause: lastError });
}

function connectOnce(path: string): Promise<net.Socket> {
  return new Promise<net.Socket>((resolve, reject) => {
    const socket = net.createConnection({ path });
    const onError = (error: Error): void => {
      socket.destroy();
      reject(error);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}
