import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type ComponentSpec,
  type ComponentState,
  type ComponentStatus,
  IsolationErrors,
  type IsolationEventKind,
  VmiError,
} from '@vmi/contracts';
import type { Logger } from '@vmi/service-runtime';
import type { ComponentCgroup } from '../sandbox/cgroups.js';
import { checkHealth, type HealthProbe, waitHealthy } from './health.js';
import { isSameProcess, processStartTicks } from './proc.js';

export interface ComponentExitInfo {
  readonly code: number | null;
  readonly signal: string | null;
}

export interface ComponentEvent {
  readonly event: IsolationEventKind;
  readonly component: string;
  readonly pid: number | null;
  readonly restarts: number;
  readonly exit: ComponentExitInfo | null;
  readonly reason: string | null;
  readonly durationMs: number | null;
}

/** What a component needs from its kernel VM; the command is rebuilt per start (paths never change). */
export interface ComponentHost {
  readonly spec: ComponentSpec;
  readonly uid: number;
  readonly gid: number;
  readonly cgroup: ComponentCgroup;
  readonly health: HealthProbe;
  readonly logFile: string;
  readonly healthIntervalMs: number;
  readonly logger: Logger;
  command(): string[];
  onEvent(event: ComponentEvent): void;
  /** Called whenever pid or restart count change, so the registry can persist them. */
  onChange(): void;
}

/** What the state file remembers of a running component. */
export interface ComponentRecord {
  readonly name: string;
  readonly pid: number | null;
  readonly startTicks: number | null;
  readonly restarts: number;
  readonly started: string | null;
}

/**
 * One component under supervision: started in its sandbox, watched (exit and health), restarted
 * with exponential back-off, and parked with a `crash-loop` event when it keeps failing.
 */
export class SupervisedComponent {
  state: ComponentState = 'stopped';
  pid: number | null = null;
  startTicks: number | null = null;
  restarts = 0;
  started: string | null = null;
  lastExit: ComponentExitInfo | null = null;
  /** Exit times inside the crash-loop window. */
  private crashes: number[] = [];
  private child: ChildProcess | null = null;
  /** Bumped on every spawn and stop, so a stale exit or timer of an earlier run does nothing. */
  private generation = 0;
  private backoffTimer: NodeJS.Timeout | null = null;
  private healthTimer: NodeJS.Timeout | null = null;
  private failedChecks = 0;
  private readyWaiters: { resolve: () => void; reject: (e: VmiError) => void }[] = [];
  private exitWaiters: (() => void)[] = [];
  private abort = new AbortController();
  /** The cgroup was created by `prepare` and nothing has run in it yet. */
  private prepared = false;

  constructor(private readonly host: ComponentHost) {}

  get name(): string {
    return this.host.spec.name;
  }

  status(): ComponentStatus {
    const spec = this.host.spec;
    return {
      name: spec.name,
      role: spec.role,
      state: this.state,
      pid: this.pid,
      uid: this.host.uid,
      gid: this.host.gid,
      restarts: this.restarts,
      started: this.started,
      last_exit: this.lastExit,
      cgroup: this.host.cgroup.path,
      limits: { memory_mib: spec.profile.limits.memory_mib, pids: spec.profile.limits.pids },
    };
  }

  record(): ComponentRecord {
    return { name: this.name, pid: this.pid, startTicks: this.startTicks, restarts: this.restarts, started: this.started };
  }

  /**
   * Creates the component's cgroup ahead of its start, so the start itself only spawns: a kernel VM
   * prepares every component at once while its dependencies are still coming up.
   */
  async prepare(): Promise<void> {
    await this.freshCgroup();
    this.prepared = true;
  }

  /** Starts the component; resolves once it is healthy. */
  async start(): Promise<void> {
    this.crashes = [];
    await this.spawnOnce();
    await this.whenReady();
  }

  /** An empty cgroup with the profile's limits; whatever a previous run left in it is killed. */
  private async freshCgroup(): Promise<void> {
    await this.host.cgroup.remove();
    await this.host.cgroup.create({ memoryMiB: this.host.spec.profile.limits.memory_mib, pids: this.host.spec.profile.limits.pids });
  }

  /** Resolves when the component is ready; rejects on a crash loop, a stop, or `ready_timeout_ms`. */
  whenReady(): Promise<void> {
    if (this.state === 'ready') return Promise.resolve();
    if (this.state === 'crash-loop') return Promise.reject(new VmiError(IsolationErrors.CRASH_LOOP, this.name));
    if (this.state === 'stopped') return Promise.reject(new VmiError(IsolationErrors.STOPPING, this.name));
    return new Promise((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
  }

  /**
   * Takes over a component a previous service process started: the same pid with the same start time
   * is still alive. It is not our child, so its exit is noticed by polling.
   */
  adopt(record: ComponentRecord): boolean {
    if (record.pid === null || record.startTicks === null || !isSameProcess(record.pid, record.startTicks)) return false;
    this.generation++;
    this.pid = record.pid;
    this.startTicks = record.startTicks;
    this.restarts = record.restarts;
    this.started = record.started;
    this.state = 'ready';
    this.watchHealth(this.generation);
    return true;
  }

  private async spawnOnce(): Promise<void> {
    const generation = ++this.generation;
    this.abort = new AbortController();
    this.state = 'starting';
    // A prepared cgroup serves the first start only; a restart gets a fresh one.
    if (this.prepared) this.prepared = false;
    else await this.freshCgroup();
    if (generation !== this.generation) return;
    const [file, ...args] = this.host.command();
    const log = openSync(this.host.logFile, 'a', 0o600);
    const startedAt = Date.now();
    let child: ChildProcess;
    try {
      // Detached: its own session, untouched by the service's signals, alive across a service restart.
      child = spawn(file as string, args, { detached: true, stdio: ['ignore', log, log], env: {} });
    } finally {
      closeSync(log);
    }
    if (child.pid === undefined) {
      await new Promise((resolve) => child.once('error', resolve));
      throw new VmiError(IsolationErrors.LAUNCH, `${this.name}: ${file} could not be executed`);
    }
    child.unref();
    this.child = child;
    this.pid = child.pid ?? null;
    this.startTicks = this.pid === null ? null : processStartTicks(this.pid);
    this.started = new Date().toISOString();
    child.once('error', (err) => this.host.logger.error({ err, component: this.name }, 'component spawn failed'));
    child.once('exit', (code, signal) => this.onExit(generation, { code, signal }));
    this.host.onChange();
    this.emit('component-started', null, null);

    const ready = await waitHealthy(this.host.health, startedAt + this.host.spec.ready_timeout_ms, this.abort.signal);
    if (generation !== this.generation) return;
    if (!ready) {
      if (this.state === 'starting') {
        this.emit('component-unhealthy', `not healthy within ${this.host.spec.ready_timeout_ms} ms`, null);
        await this.host.cgroup.signal('SIGKILL');
      }
      return;
    }
    this.state = 'ready';
    this.failedChecks = 0;
    this.emit('component-ready', null, Date.now() - startedAt);
    for (const w of this.readyWaiters.splice(0)) w.resolve();
    this.watchHealth(generation);
  }

  private watchHealth(generation: number): void {
    if (this.healthTimer !== null) clearTimeout(this.healthTimer);
    this.healthTimer = setTimeout(async () => {
      this.healthTimer = null;
      if (generation !== this.generation || this.state !== 'ready') return;
      // An adopted component is not our child: its exit shows only as a vanished process.
      if (this.child === null && this.pid !== null && this.startTicks !== null && !isSameProcess(this.pid, this.startTicks)) {
        this.onExit(generation, { code: null, signal: null });
        return;
      }
      const healthy = await checkHealth(this.host.health, Math.min(2000, this.host.healthIntervalMs));
      if (generation !== this.generation || this.state !== 'ready') return;
      this.failedChecks = healthy ? 0 : this.failedChecks + 1;
      if (this.failedChecks >= this.host.spec.restart.unhealthy_after) {
        this.emit('component-unhealthy', `${this.failedChecks} failed health checks`, null);
        // Killing the whole cgroup turns an unhealthy component into an exit, which restarts it.
        await this.host.cgroup.signal('SIGKILL');
        if (this.child === null) this.onExit(generation, { code: null, signal: 'SIGKILL' });
        return;
      }
      this.watchHealth(generation);
    }, this.host.healthIntervalMs);
    this.healthTimer.unref();
  }

  private onExit(generation: number, exit: { code: number | null; signal: NodeJS.Signals | string | null }): void {
    for (const w of this.exitWaiters.splice(0)) w();
    if (generation !== this.generation) return;
    this.child = null;
    this.abort.abort();
    const info: ComponentExitInfo = { code: exit.code, signal: exit.signal };
    this.lastExit = info;
    const pid = this.pid;
    this.pid = null;
    this.startTicks = null;
    if (this.state === 'stopping' || this.state === 'stopped') return;
    this.host.onChange();
    this.host.onEvent({ ...this.base(pid), event: 'component-exited', exit: info, reason: null, durationMs: null });

    const policy = this.host.spec.restart;
    const now = Date.now();
    this.crashes = [...this.crashes.filter((t) => now - t < policy.crash_loop_window_s * 1000), now];
    if (this.crashes.length > policy.crash_loop_restarts) {
      this.state = 'crash-loop';
      this.emit('crash-loop', `${this.crashes.length} exits within ${policy.crash_loop_window_s} s; not restarting`, null);
      for (const w of this.readyWaiters.splice(0)) w.reject(new VmiError(IsolationErrors.CRASH_LOOP, this.name));
      void this.host.cgroup.remove().catch((err) => this.host.logger.error({ err }, 'cgroup cleanup failed'));
      return;
    }
    const delay = Math.min(policy.backoff_max_ms, policy.backoff_initial_ms * 2 ** (this.crashes.length - 1));
    this.state = 'backoff';
    this.emit('component-restarting', `restart ${this.restarts + 1} after ${delay} ms`, delay);
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = null;
      if (generation !== this.generation || this.state !== 'backoff') return;
      this.restarts++;
      this.spawnOnce().catch((err) => {
        this.host.logger.error({ err, component: this.name }, 'restart failed');
        this.onExit(this.generation, { code: null, signal: null });
      });
    }, delay);
    this.backoffTimer.unref();
  }

  /** SIGTERM to every process of the component, SIGKILL after `stop_timeout_ms`, then its cgroup goes. */
  async stop(): Promise<void> {
    this.generation++;
    this.abort.abort();
    if (this.backoffTimer !== null) clearTimeout(this.backoffTimer);
    if (this.healthTimer !== null) clearTimeout(this.healthTimer);
    this.backoffTimer = this.healthTimer = null;
    this.prepared = false;
    const wasRunning = this.pid !== null;
    this.state = 'stopping';
    const exited = new Promise<void>((resolve) => {
      if (this.child === null) resolve();
      else this.exitWaiters.push(resolve);
    });
    await this.host.cgroup.signal('SIGTERM');
    const deadline = Date.now() + this.host.spec.stop_timeout_ms;
    while (Date.now() < deadline && (await this.host.cgroup.pids()).length > 0) await sleep(10);
    await this.host.cgroup.remove();
    await Promise.race([exited, sleep(1000)]);
    this.child = null;
    this.pid = null;
    this.startTicks = null;
    this.state = 'stopped';
    for (const w of this.readyWaiters.splice(0)) w.reject(new VmiError(IsolationErrors.STOPPING, this.name));
    if (wasRunning) this.host.onChange();
  }

  /** Forgets the running process without touching it (the service hands it to its next instance). */
  detach(): void {
    this.generation++;
    this.abort.abort();
    if (this.backoffTimer !== null) clearTimeout(this.backoffTimer);
    if (this.healthTimer !== null) clearTimeout(this.healthTimer);
    this.backoffTimer = this.healthTimer = null;
    this.child = null;
  }

  /** A manual restart: clean stop, fresh start, crash history forgotten. */
  async restart(): Promise<void> {
    await this.stop();
    this.restarts++;
    await this.start();
  }

  private base(pid: number | null) {
    return { component: this.name, pid, restarts: this.restarts };
  }

  private emit(event: IsolationEventKind, reason: string | null, durationMs: number | null): void {
    this.host.onEvent({ ...this.base(this.pid), event, exit: null, reason, durationMs });
  }
}
