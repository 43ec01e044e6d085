import { EventEmitter } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import net from 'node:net';
import { GuestErrors, VmiError } from '@vmi/contracts';

/**
 * The host side of the guest's serial control protocol (see guest-src/rootfs/init): the host writes
 * `run <id> <command>` / `kill <id> <signal>` lines; the guest tags every output line `<id>|` and
 * ends a command with `@@VMI-END:<id>:<exit code>@@`. Untagged lines are kernel or init chatter and
 * only go to the log. Everything received is appended to the serial log file as it arrives.
 */

/** The line the guest's /init prints once it reads commands. */
export const READY = /@@VMI-READY:([^@]*)@@/;
const WARN = /@@VMI-WARN:([^@]*)@@/;
const TAGGED = /^(j[0-9]+)\|(.*)$/;
/** Longest command line the guest's canonical-mode tty accepts with room to spare. */
export const MAX_COMMAND_LENGTH = 3000;

export interface JobEvents {
  line: [line: string];
  exit: [code: number];
}

/** A command running in the guest. */
export class GuestJob extends EventEmitter<JobEvents> {
  readonly lines: string[] = [];
  exitCode: number | undefined;
  readonly exited: Promise<number>;
  private resolveExit!: (code: number) => void;

  constructor(
    readonly id: string,
    readonly command: string,
    private readonly console: SerialConsole,
  ) {
    super();
    this.exited = new Promise((resolve) => {
      this.resolveExit = resolve;
    });
  }

  /** Signals the command's whole process group in the guest (`TERM`, `KILL`, `INT`, ...). */
  kill(signal = 'TERM'): void {
    if (!/^[A-Z0-9]{1,10}$/.test(signal))
      throw new VmiError(GuestErrors.INVALID_ARGUMENT, 'signal must be a name like TERM', { path: '/signal' });
    if (this.exitCode === undefined) this.console.send(`kill ${this.id} ${signal}`);
  }

  /** Resolves with the first output line (past or future) matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
    for (const line of this.lines) {
      const match = line.match(pattern);
      if (match) return Promise.resolve(match);
    }
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off('line', onLine);
        this.off('exit', onExit);
      };
      const onLine = (line: string): void => {
        const match = line.match(pattern);
        if (!match) return;
        cleanup();
        resolve(match);
      };
      const onExit = (code: number): void => {
        cleanup();
        reject(new VmiError(GuestErrors.EXITED, `command exited (${code}) before printing ${pattern}`, { details: { exitCode: code } }));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new VmiError(GuestErrors.EXEC_TIMEOUT, `no line matching ${pattern} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.on('line', onLine);
      this.on('exit', onExit);
    });
  }

  /** @internal */
  deliver(line: string): void {
    this.lines.push(line);
    this.emit('line', line);
  }

  /** @internal */
  finish(code: number): void {
    if (this.exitCode !== undefined) return;
    this.exitCode = code;
    this.resolveExit(code);
    this.emit('exit', code);
  }
}

export interface SerialConsoleEvents {
  ready: [kernelRelease: string];
  warning: [text: string];
  close: [];
}

export class SerialConsole extends EventEmitter<SerialConsoleEvents> {
  private readonly jobs = new Map<string, GuestJob>();
  private nextJob = 1;
  private partial = '';
  private closed = false;
  kernelRelease: string | undefined;

  private constructor(
    private readonly socket: net.Socket,
    private readonly log: WriteStream,
  ) {
    super();
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => this.onData(text));
    socket.on('error', () => {
      // 'close' follows.
    });
    socket.on('close', () => this.onClose());
  }

  /** Connects to QEMU's serial socket, retrying while QEMU has not created it yet. */
  static async connect(path: string, logPath: string, deadline: number, isAlive: () => boolean): Promise<SerialConsole> {
    for (;;) {
      try {
        const socket = await new Promise<net.Socket>((resolve, reject) => {
          const s = net.createConnection({ path });
          s.once('error', (error) => {
            s.destroy();
            reject(error);
          });
          s.once('connect', () => {
            s.removeAllListeners('error');
            resolve(s);
          });
        });
        return new SerialConsole(socket, createWriteStream(logPath, { flags: 'a' }));
      } catch (error) {
        if (!isAlive() || Date.now() > deadline) {
          throw new VmiError(GuestErrors.LAUNCH, `serial socket ${path} did not accept a connection`, { cause: error });
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  waitReady(timeoutMs: number): Promise<string> {
    if (this.kernelRelease !== undefined) return Promise.resolve(this.kernelRelease);
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off('ready', onReady);
        this.off('close', onClose);
      };
      const onReady = (release: string): void => {
        cleanup();
        resolve(release);
      };
      const onClose = (): void => {
        cleanup();
        reject(new VmiError(GuestErrors.LAUNCH, 'serial console closed before the guest was ready'));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new VmiError(GuestErrors.BOOT_TIMEOUT, `no ready line within ${timeoutMs} ms`, { details: { timeoutMs } }));
      }, timeoutMs);
      this.on('ready', onReady);
      this.on('close', onClose);
    });
  }

  /** Starts a command in the guest; output streams through the returned job. */
  run(command: string): GuestJob {
    validateCommand(command);
    if (this.closed) throw new VmiError(GuestErrors.EXITED, 'serial console is closed');
    const job = new GuestJob(`j${this.nextJob++}`, command, this);
    this.jobs.set(job.id, job);
    this.send(`run ${job.id} ${command}`);
    return job;
  }

  /** @internal */
  send(line: string): void {
    if (!this.closed) this.socket.write(`${line}\n`);
  }

  async close(): Promise<void> {
    this.socket.destroy();
    await new Promise<void>((resolve) => this.log.end(resolve));
  }

  private onData(text: string): void {
    this.log.write(text);
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    // A peer that never sends a newline must not grow the buffer without bound.
    if (this.partial.length > 1 << 20) this.partial = '';
    for (const raw of lines) this.onLine(raw.replace(/\r/g, ''));
  }

  private onLine(line: string): void {
    const tagged = TAGGED.exec(line);
    if (tagged) {
      const [, id = '', body = ''] = tagged;
      const job = this.jobs.get(id);
      if (!job) return;
      const end = new RegExp(`^(.*)@@VMI-END:${id}:(\\d+)@@$`).exec(body);
      if (end) {
        const [, before = '', code = '0'] = end;
        // Output without a final newline runs into the marker: it is still output.
        if (before.length > 0) job.deliver(before);
        this.jobs.delete(id);
        job.finish(Number(code));
      } else {
        job.deliver(body);
      }
      return;
    }
    const ready = READY.exec(line);
    if (ready) {
      this.kernelRelease = ready[1] ?? '';
      this.emit('ready', this.kernelRelease);
      return;
    }
    const warn = WARN.exec(line);
    if (warn) this.emit('warning', warn[1] ?? '');
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const job of this.jobs.values()) job.finish(-1);
    this.jobs.clear();
    this.emit('close');
  }
}

function validateCommand(command: string): void {
  if (command.length === 0 || command.length > MAX_COMMAND_LENGTH) {
    throw new VmiError(GuestErrors.INVALID_ARGUMENT, `command must be 1 to ${MAX_COMMAND_LENGTH} characters`, { path: '/command' });
  }
  // The guest reads commands through a canonical-mode tty: control characters would edit or end the line.
  for (let i = 0; i < command.length; i++) {
    const c = command.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) {
      throw new VmiError(GuestErrors.INVALID_ARGUMENT, `command has a control character at index ${i}`, { path: '/command' });
    }
  }
}
