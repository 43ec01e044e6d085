import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import net from 'node:net';
import { getPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { GuestErrors, VmiError } from '@vmi/contracts';
import { cont, QmpClient, type QmpStatus, queryStatus, quit, stop } from '@vmi/qmp';
import type { GuestImage, GuestImageFiles } from '../image/guest-image.js';
import type { GuestProfile } from '../profile/guest-profile.js';
import { registerGuest } from './guest-registry.js';
import { type QemuCommand, qemuCommand } from './qemu-command.js';
import { type GuestJob, SerialConsole } from './serial-console.js';

export interface LaunchGuestOptions {
  /** The image to boot; built (or taken from the cache) when absent. */
  readonly image?: GuestImage;
  readonly memoryMiB?: number;
  /** A short label for file names and logs. */
  readonly name?: string;
  /** Start the gdbstub on a free loopback port (default true). */
  readonly gdb?: boolean;
  /** How many QMP monitors to offer callers (default 1); the launcher keeps one more for itself. */
  readonly qmpSockets?: number;
  readonly keyboard?: 'ps2' | 'virtio';
  readonly kernelArgs?: readonly string[];
  readonly extraArgs?: readonly string[];
  /** Extra environment for QEMU, e.g. an LD_PRELOAD shim. */
  readonly env?: Readonly<Record<string, string>>;
  /** Bulk output of the guest's ttyS1 goes to this file. */
  readonly dataSerialPath?: string;
  readonly bootTimeoutMs?: number;
  /** Keep the run directory (serial log) after close, for post-mortems. */
  readonly keepRunDir?: boolean;
  /**
   * QEMU's nice value (default 0, a host's ordinary priority), whatever the launcher's own: a
   * launcher that runs ahead of guests (a service, a benchmark at the services' priority) must not
   * hand that priority to the guest it starts.
   */
  readonly nice?: number;
}

export interface ExecResult {
  /** Every output line (stdout and stderr together), each followed by a newline. */
  readonly output: string;
  readonly exitCode: number;
}

const START_KERNEL_MAP = 0xffffffff80000000n;

/** A running guest. Always `close()` it; the process-wide registry is the safety net. */
export class Guest {
  private closing: Promise<void> | undefined;
  private readonly stderrTail: string[] = [];

  /** @internal */
  constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    private readonly serial: SerialConsole,
    readonly runDir: string,
    readonly ramPath: string,
    readonly memoryMiB: number,
    readonly qmpPaths: readonly string[],
    private readonly controlQmpPath: string,
    readonly gdbAddress: { readonly host: string; readonly port: number } | undefined,
    readonly serialLogPath: string,
    readonly kernelRelease: string,
    readonly command: QemuCommand,
    private readonly maybeProfile: GuestProfile | undefined,
    private readonly unregister: () => void,
    readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>,
    private readonly keepRunDir: boolean,
  ) {}

  /** QEMU's process id. */
  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The symbol profile of the booted image. */
  get profile(): GuestProfile {
    if (!this.maybeProfile) throw new VmiError(GuestErrors.INVALID_ARGUMENT, 'this guest was booted without a profile');
    return this.maybeProfile;
  }

  /** Runs a command line in the guest and waits for it to finish. */
  async exec(command: string, options: { timeoutMs?: number } = {}): Promise<ExecResult> {
    const timeoutMs = options.timeoutMs ?? 60_000;
    const job = this.spawn(command);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        job.kill('KILL');
        reject(new VmiError(GuestErrors.EXEC_TIMEOUT, `after ${timeoutMs} ms`, { details: { command, timeoutMs } }));
      }, timeoutMs);
    });
    try {
      const exitCode = await Promise.race([job.exited, timedOut]);
      if (exitCode < 0) throw new VmiError(GuestErrors.EXITED, 'the guest went away while the command ran', { details: { command } });
      return { output: job.lines.map((line) => `${line}\n`).join(''), exitCode };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Starts a long-running command; its output streams as `line` events on the job. */
  spawn(command: string): GuestJob {
    if (!this.running || this.closing) throw new VmiError(GuestErrors.EXITED, 'guest is not running');
    return this.serial.run(command);
  }

  /** Reads guest-physical memory through the shared RAM file (offset = physical address on this q35 guest). */
  async readPhysical(address: bigint, length: number): Promise<Buffer> {
    const size = BigInt(this.memoryMiB) * 1024n * 1024n;
    if (address < 0n || length < 0 || length > 1 << 24 || address + BigInt(length) > size) {
      throw new VmiError(GuestErrors.INVALID_ARGUMENT, 'physical range outside guest RAM', {
        details: { address: `0x${address.toString(16)}`, length },
      });
    }
    const handle = await open(this.ramPath, 'r');
    try {
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, Number(address));
      return buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }

  /** Reads a kernel-image virtual range (nokaslr: physical = va - 0xffffffff80000000 + phys_base). */
  readKernelImage(va: bigint, length: number, physBase = 0n): Promise<Buffer> {
    return this.readPhysical(va - START_KERNEL_MAP + physBase, length);
  }

  /**
   * Pauses the guest's vCPUs (QMP `stop` on the launcher's own monitor). Its virtual clock stops
   * too, so after `resume` the guest sees no jump in time: benchmarks park one guest this way
   * while another one is measured.
   */
  pause(): Promise<void> {
    return this.withControl(stop);
  }

  /** Resumes the vCPUs after `pause` (QMP `cont`). */
  resume(): Promise<void> {
    return this.withControl(cont);
  }

  /** The vCPUs' run state, as QMP `query-status` reports it on the launcher's own monitor. */
  status(): Promise<QmpStatus> {
    return this.withControl(queryStatus);
  }

  private async withControl<T>(command: (client: QmpClient) => Promise<T>): Promise<T> {
    if (!this.running || this.closing) throw new VmiError(GuestErrors.EXITED, 'guest is not running');
    const client = await QmpClient.connect(this.controlQmpPath, { connectTimeoutMs: 5_000, commandTimeoutMs: 5_000 });
    try {
      return await command(client);
    } finally {
      await client.close();
    }
  }

  /** The last lines QEMU wrote to stderr. */
  qemuStderr(): string {
    return this.stderrTail.join('');
  }

  /** @internal */
  recordStderr(text: string): void {
    this.stderrTail.push(text);
    if (this.stderrTail.length > 50) this.stderrTail.shift();
  }

  /** Stops QEMU (QMP quit, then SIGKILL) and removes the RAM file and sockets. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    if (this.running) {
      try {
        const control = await QmpClient.connect(this.controlQmpPath, { connectTimeoutMs: 2_000, commandTimeoutMs: 2_000 });
        await quit(control).finally(() => control.close());
      } catch {
        // A frozen or wedged QEMU may not answer; SIGKILL below ends it either way.
      }
      const exitedInTime = await Promise.race([this.exited.then(() => true), delay(3_000).then(() => false)]);
      if (!exitedInTime) this.child.kill('SIGKILL');
    }
    await this.exited;
    await this.serial.close();
    rmSync(this.ramPath, { force: true });
    if (!this.keepRunDir) rmSync(this.runDir, { recursive: true, force: true });
    this.unregister();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

let setprivAvailable: boolean | undefined;
function hasSetpriv(): boolean {
  setprivAvailable ??= ['/usr/bin/setpriv', '/bin/setpriv'].some((p) => existsSync(p));
  return setprivAvailable;
}

/**
 * The command run at the given nice value: a child inherits the nice value of the thread that
 * starts it, so one that differs goes through nice(1) with the difference. Raising it needs no
 * privilege; lowering it below the launcher's needs CAP_SYS_NICE, without which nice(1) says so and
 * runs the command at the launcher's.
 */
function atNice(nice: number, [file, args]: [string, string[]]): [string, string[]] {
  const delta = nice - getPriority();
  return delta === 0 ? [file, args] : ['nice', ['-n', String(delta), file, ...args]];
}

function readTail(path: string, bytes: number): string {
  try {
    return readFileSync(path, 'utf8').slice(-bytes);
  } catch {
    return '';
  }
}

const RAM_FILE = /^vmi-guest-.*-(\d+)-[0-9a-f]{8}\.ram$/;

/**
 * Removes RAM files whose launching process is gone: a process killed outright cannot clean up
 * (its QEMU dies with it through the parent-death signal, but the file stays).
 */
function sweepStaleRamFiles(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const owner = Number(RAM_FILE.exec(name)?.[1] ?? Number.NaN);
    if (!Number.isInteger(owner) || owner === process.pid) continue;
    try {
      process.kill(owner, 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ESRCH') rmSync(join(dir, name), { force: true });
    }
  }
}

function safeName(name: string | undefined): string {
  const cleaned = (name ?? 'guest').replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 32);
  return cleaned.length > 0 ? cleaned : 'guest';
}

/** Boots the built (or given) guest image and waits until its control console is ready. */
export async function launchGuest(options: LaunchGuestOptions = {}): Promise<Guest> {
  const image = options.image ?? (await (await import('../image/ensure-guest-image.js')).ensureGuestImage());
  return bootGuest(image, image.profile, options);
}

/** @internal Boots any kernel+initramfs pair; the image builder uses it before a profile exists. */
export async function bootGuest(files: GuestImageFiles, profile: GuestProfile | undefined, options: LaunchGuestOptions): Promise<Guest> {
  const qmpSockets = options.qmpSockets ?? 1;
  if (!Number.isInteger(qmpSockets) || qmpSockets < 0 || qmpSockets > 16) {
    throw new VmiError(GuestErrors.INVALID_ARGUMENT, 'qmpSockets must be an integer from 0 to 16', { path: '/qmpSockets' });
  }
  const nice = options.nice ?? 0;
  if (!Number.isInteger(nice) || nice < -20 || nice > 19) {
    throw new VmiError(GuestErrors.INVALID_ARGUMENT, 'nice must be an integer from -20 to 19', { path: '/nice' });
  }
  for (const path of [files.kernelPath, files.initrdPath]) {
    if (!existsSync(path)) throw new VmiError(GuestErrors.LAUNCH, `missing image file ${path}`);
  }
  let lastError: unknown;
  // A free port can be taken by someone else between probing and QEMU's bind: try again with another.
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await bootOnce(files, profile, options, qmpSockets);
    } catch (error) {
      lastError = error;
      const portClash = error instanceof VmiError && /bind|in use/i.test(String(error.details?.stderr ?? ''));
      if (!portClash) throw error;
    }
  }
  throw lastError;
}

async function bootOnce(
  files: GuestImageFiles,
  profile: GuestProfile | undefined,
  options: LaunchGuestOptions,
  qmpSockets: number,
): Promise<Guest> {
  const name = safeName(options.name);
  const memoryMiB = options.memoryMiB ?? 256;
  const runDir = mkdtempSync(join(tmpdir(), `vmi-guest-${name}-`));
  const shm = existsSync('/dev/shm') && statSync('/dev/shm').isDirectory() ? '/dev/shm' : runDir;
  sweepStaleRamFiles(shm);
  const ramPath = join(shm, `vmi-guest-${name}-${process.pid}-${randomBytes(4).toString('hex')}.ram`);
  const qmpPaths = Array.from({ length: qmpSockets }, (_, i) => join(runDir, `qmp${i}.sock`));
  const controlQmpPath = join(runDir, 'control.qmp.sock');
  const serialSocketPath = join(runDir, 'serial.sock');
  const serialLogPath = join(runDir, 'serial.log');
  const gdbPort = options.gdb === false ? undefined : await freeLoopbackPort();
  const command = qemuCommand({
    kernelPath: files.kernelPath,
    initrdPath: files.initrdPath,
    memoryMiB,
    ramPath,
    serialSocketPath,
    qmpPaths: [...qmpPaths, controlQmpPath],
    gdbAddress: gdbPort === undefined ? undefined : `127.0.0.1:${gdbPort}`,
    dataSerialPath: options.dataSerialPath,
    keyboard: options.keyboard ?? 'ps2',
    kernelArgs: options.kernelArgs ?? [],
    extraArgs: options.extraArgs ?? [],
  });
  // Under a parent-death signal QEMU dies with this process even when it is killed outright.
  const [file, args] = atNice(
    options.nice ?? 0,
    hasSetpriv() ? ['setpriv', ['--pdeathsig', 'KILL', '--', command.file, ...command.args]] : [command.file, [...command.args]],
  );
  const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...options.env } });
  const unregister = registerGuest(child, [ramPath, ...(options.keepRunDir ? [] : [runDir])]);
  const stderr: string[] = [];
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    stderr.push(text);
    if (stderr.length > 50) stderr.shift();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', () => resolve({ code: -1, signal: null }));
  });
  const alive = (): boolean => child.exitCode === null && child.signalCode === null && child.pid !== undefined;
  const fail = async (error: unknown): Promise<never> => {
    if (alive()) child.kill('SIGKILL');
    await exited;
    // What the guest printed is the best clue to a failed boot: keep its tail before the files go.
    const serialTail = readTail(serialLogPath, 2000);
    rmSync(ramPath, { force: true });
    if (!options.keepRunDir) rmSync(runDir, { recursive: true, force: true });
    unregister();
    const text = stderr.join('').slice(-2000);
    if (error instanceof VmiError && error.code !== GuestErrors.LAUNCH.code) {
      throw new VmiError({ code: error.code, status: error.status, message: error.message }, undefined, {
        details: { ...error.details, stderr: text, serialTail },
        cause: error,
      });
    }
    throw new VmiError(
      GuestErrors.LAUNCH,
      `${error instanceof Error ? error.message : String(error)}${text ? `; qemu: ${text.trim()}` : ''}`,
      { details: { stderr: text, serialTail }, cause: error },
    );
  };
  const bootTimeoutMs = options.bootTimeoutMs ?? 180_000;
  const deadline = Date.now() + bootTimeoutMs;
  let serial: SerialConsole;
  try {
    serial = await SerialConsole.connect(serialSocketPath, serialLogPath, deadline, alive);
  } catch (error) {
    return fail(error);
  }
  const exitedEarly = exited.then(({ code, signal }) => {
    throw new VmiError(GuestErrors.LAUNCH, `qemu exited during boot (code ${code}, signal ${signal})`, {
      details: { stderr: stderr.join('') },
    });
  });
  // Only the race below cares; a later, normal exit must not become an unhandled rejection.
  exitedEarly.catch(() => undefined);
  let kernelRelease: string;
  try {
    kernelRelease = await Promise.race([serial.waitReady(Math.max(1, deadline - Date.now())), exitedEarly]);
  } catch (error) {
    await serial.close();
    return fail(error);
  }
  const guest = new Guest(
    name,
    child,
    serial,
    runDir,
    ramPath,
    memoryMiB,
    qmpPaths,
    controlQmpPath,
    gdbPort === undefined ? undefined : { host: '127.0.0.1', port: gdbPort },
    serialLogPath,
    kernelRelease,
    command,
    profile,
    unregister,
    exited,
    options.keepRunDir ?? false,
  );
  for (const text of stderr) guest.recordStderr(text);
  child.stderr?.on('data', (text: string) => guest.recordStderr(text));
  return guest;
}
