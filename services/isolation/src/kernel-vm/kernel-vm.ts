import { spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type GuestImageSpec,
  IsolationErrors,
  type IsolationEventKind,
  type IsolationManifest,
  type KernelVmState,
  type KernelVmStatus,
  VmiError,
} from '@vmi/contracts';
import type { Logger } from '@vmi/service-runtime';
import { expand, type TemplateValues } from '../manifest/templates.js';
import { type CgroupLayout, ComponentCgroup, removeCgroupDirs } from '../sandbox/cgroups.js';
import { KernelVmIds } from '../sandbox/ids.js';
import { sandboxCommand } from '../sandbox/plan.js';
import { type ComponentEvent, type ComponentRecord, SupervisedComponent } from './component.js';
import { componentPlan } from './component-plan.js';
import { createLayout, type KernelVmLayout, layoutFor, removeLayout } from './layout.js';
import { type NatsRelay, type NatsTarget, startNatsRelay } from './nats-relay.js';

/** Host facts every kernel VM shares. */
export interface KernelVmEnvironment {
  readonly runDir: string;
  readonly logDir: string;
  readonly idBase: number;
  readonly cgroups: CgroupLayout;
  /** Top cgroup directory name of this service instance (`vmi-isolation` by default). */
  readonly cgroupRoot: string;
  readonly nativeDir: string;
  readonly bwrap: string;
  readonly qemu: string;
  /** The userfaultfd preload shim library (`${uffd.shim}`), or null where none is built or configured. */
  readonly uffdShim: string | null;
  readonly host: string;
  readonly prefix: string;
  readonly consoleSubject: (guest: string) => string;
  readonly natsTarget: NatsTarget;
  readonly healthIntervalMs: number;
  readonly logger: Logger;
}

export interface KernelVmIdentity {
  readonly id: string;
  readonly guest: string;
  readonly slug: string;
  readonly slot: number;
  readonly created: string;
  readonly image: GuestImageSpec | null;
  readonly manifest: IsolationManifest;
  readonly manifestSha256: string;
}

export interface ExecResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export type KernelVmEventSink = (kvm: KernelVm, event: Omit<ComponentEvent, 'component'> & { component: string | null }) => void;

/**
 * One guest's kernel VM: its directories, its NATS relay, and its components, each supervised in
 * its own execution environment. Components start as soon as the ones they come `after` are healthy.
 */
export class KernelVm {
  readonly layout: KernelVmLayout;
  readonly ids: KernelVmIds;
  readonly components: readonly SupervisedComponent[];
  readonly endpoints: Readonly<Record<string, string>>;
  adopted = false;
  private execs = 0;
  private stopping = false;
  private stopped = false;
  private relays: NatsRelay[] = [];
  private readonly values: TemplateValues;

  constructor(
    readonly identity: KernelVmIdentity,
    private readonly env: KernelVmEnvironment,
    private readonly sink: KernelVmEventSink,
    onChange: () => void,
  ) {
    const manifest = identity.manifest;
    this.layout = layoutFor(env.runDir, identity.slug, manifest);
    this.ids = new KernelVmIds(env.idBase, identity.slot, manifest);
    this.values = {
      guest: identity.slug,
      guestName: identity.guest,
      host: env.host,
      prefix: env.prefix,
      native: env.nativeDir,
      consoleSubject: env.consoleSubject(identity.guest),
      resources: this.layout.resources,
      image: identity.image,
      uffdShim: env.uffdShim,
    };
    const endpoints: Record<string, string> = {};
    for (const [name, template] of Object.entries(manifest.endpoints)) endpoints[name] = expand(template, this.values);
    this.endpoints = endpoints;
    const logger = env.logger.child({ guest: identity.guest, kernel_vm: identity.id });
    this.components = manifest.components.map((spec) => {
      const cgroup = new ComponentCgroup(env.cgroups, [...this.cgroupPath(), spec.name]);
      const id = this.ids.componentId(spec.name);
      return new SupervisedComponent({
        spec,
        uid: id,
        gid: id,
        cgroup,
        health: { kind: spec.health.kind, socket: expand(spec.health.socket, this.values) },
        logFile: join(env.logDir, identity.slug, `${spec.name}.log`),
        healthIntervalMs: env.healthIntervalMs,
        logger,
        command: () =>
          sandboxCommand(
            join(env.nativeDir, 'sandbox-exec'),
            env.bwrap,
            componentPlan({
              manifest,
              spec,
              ids: this.ids,
              values: this.values,
              image: identity.image,
              cgroupProcs: cgroup.procsFiles,
              qemu: env.qemu,
            }),
          ),
        onEvent: (event) => this.sink(this, event),
        onChange,
      });
    });
  }

  get guest(): string {
    return this.identity.guest;
  }

  private cgroupPath(): string[] {
    return [this.env.cgroupRoot, this.identity.slug];
  }

  component(name: string): SupervisedComponent | undefined {
    return this.components.find((c) => c.name === name);
  }

  state(): KernelVmState {
    if (this.stopped) return 'stopped';
    if (this.stopping) return 'stopping';
    const states = this.components.map((c) => c.state);
    if (states.every((s) => s === 'ready')) return 'running';
    if (states.some((s) => s === 'crash-loop' || s === 'backoff')) return 'degraded';
    return 'starting';
  }

  status(): KernelVmStatus {
    return {
      id: this.identity.id,
      guest: this.identity.guest,
      slug: this.identity.slug,
      state: this.state(),
      created: this.identity.created,
      adopted: this.adopted,
      directory: this.layout.dir,
      endpoints: { ...this.endpoints },
      components: this.components.map((c) => c.status()),
    };
  }

  records(): ComponentRecord[] {
    return this.components.map((c) => c.record());
  }

  /**
   * The host-side pieces the components rely on, all at once: directories, log directory, NATS
   * relays, and every component's cgroup (so a component whose dependencies become healthy only
   * has to be spawned).
   */
  private async prepare(): Promise<void> {
    const layout = createLayout(this.layout, this.identity.manifest, this.ids);
    await Promise.all([
      mkdir(join(this.env.logDir, this.identity.slug), { recursive: true, mode: 0o700 }),
      layout.then(() => this.startRelays()),
      ...this.components.map((c) => c.prepare()),
    ]);
  }

  private async startRelays(): Promise<void> {
    const relays = Object.entries(this.identity.manifest.resources)
      .filter(([, spec]) => spec.relay === 'nats')
      .map(([name]) =>
        startNatsRelay(join(this.layout.resources[name] as string, 'nats.sock'), this.env.natsTarget, this.ids.resourceGroup(name)),
      );
    this.relays.push(...(await Promise.all(relays)));
  }

  /**
   * Starts every component as soon as the ones it comes `after` are healthy; resolves when all are.
   * Nothing is spawned before `beforeSpawn` (the registry's record of this kernel VM) settles.
   * Spawning blocks the service's event loop for a moment each, so among components ready to go the
   * one that others wait for goes first.
   */
  async start(beforeSpawn: Promise<void> = Promise.resolve()): Promise<void> {
    await Promise.all([this.prepare(), beforeSpawn]);
    const specs = this.identity.manifest.components;
    const started = new Map<string, Promise<void>>();
    const order = [...specs.keys()].sort((a, b) => dependents(specs, specs[b]?.name) - dependents(specs, specs[a]?.name) || a - b);
    for (const i of order) {
      const spec = specs[i] as (typeof specs)[number];
      const component = this.components[i] as SupervisedComponent;
      const start = () => component.start();
      started.set(spec.name, spec.after.length === 0 ? start() : Promise.all(spec.after.map((d) => started.get(d))).then(start));
    }
    await Promise.all(started.values());
  }

  /**
   * Re-attaches to components a previous service process started. Only a complete kernel VM is
   * adopted; otherwise the caller replaces it.
   */
  async adopt(records: readonly ComponentRecord[]): Promise<boolean> {
    const byName = new Map(records.map((r) => [r.name, r]));
    const all = this.components.every((c) => {
      const r = byName.get(c.name);
      return r !== undefined && c.adopt(r);
    });
    if (!all) return false;
    // The relay lived in the old process: bring it back on the same path.
    await mkdir(join(this.env.logDir, this.identity.slug), { recursive: true, mode: 0o700 });
    await this.startRelays();
    this.adopted = true;
    return true;
  }

  /** Stops every component (dependents first), the relays, and removes the directories and cgroups. */
  async stop(options: { keepFiles?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopping = true;
    const specs = this.identity.manifest.components;
    for (const spec of [...specs].reverse()) {
      const dependents = specs.filter((s) => s.after.includes(spec.name)).map((s) => this.component(s.name));
      await Promise.all(dependents.map((d) => d?.stop()));
    }
    await Promise.all(this.components.map((c) => c.stop()));
    for (const relay of this.relays.splice(0)) await relay.close();
    await removeCgroupDirs(this.env.cgroups, this.cgroupPath());
    if (options.keepFiles !== true) await removeLayout(this.layout);
    this.stopped = true;
    this.stopping = false;
  }

  /**
   * Runs a command to completion in a fresh execution environment built from a component's profile
   * (same user, groups, namespaces, mounts, seccomp filter, capabilities and limits, in a sibling
   * cgroup): how an operator checks what that component can and cannot do.
   */
  async exec(component: string, argv: readonly string[], timeoutMs = 30_000): Promise<ExecResult> {
    const spec = this.identity.manifest.components.find((c) => c.name === component);
    if (spec === undefined) throw new VmiError(IsolationErrors.UNKNOWN_COMPONENT, `${this.guest}/${component}`);
    const cgroup = new ComponentCgroup(this.env.cgroups, [...this.cgroupPath(), `${component}-exec-${++this.execs}`]);
    await cgroup.create({ memoryMiB: spec.profile.limits.memory_mib, pids: spec.profile.limits.pids });
    const [file, ...args] = sandboxCommand(
      join(this.env.nativeDir, 'sandbox-exec'),
      this.env.bwrap,
      componentPlan({
        manifest: this.identity.manifest,
        spec,
        ids: this.ids,
        values: this.values,
        image: this.identity.image,
        cgroupProcs: cgroup.procsFiles,
        qemu: this.env.qemu,
        argv,
      }),
    );
    try {
      return await new Promise<ExecResult>((resolve, reject) => {
        const child = spawn(file as string, args, { stdio: ['ignore', 'pipe', 'pipe'], env: {} });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => {
          stdout += d.toString('utf8');
        });
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString('utf8');
        });
        const timer = setTimeout(() => void cgroup.signal('SIGKILL'), timeoutMs);
        child.once('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
        child.once('close', (code, signal) => {
          clearTimeout(timer);
          resolve({ code, signal, stdout, stderr });
        });
      });
    } finally {
      await cgroup.remove();
    }
  }

  /** Leaves the components running (the service is restarting) but closes what lives in this process. */
  async detach(): Promise<void> {
    for (const c of this.components) c.detach();
    for (const relay of this.relays.splice(0)) await relay.close();
  }

  emit(event: IsolationEventKind, reason: string | null, durationMs: number | null = null): void {
    this.sink(this, { event, component: null, pid: null, restarts: 0, exit: null, reason, durationMs });
  }
}

/** How many components wait, directly or through others, for the named one. */
function dependents(specs: IsolationManifest['components'], name: string | undefined): number {
  const waiting = new Set<string>(name === undefined ? [] : [name]);
  for (const spec of specs) if (spec.after.some((d) => waiting.has(d))) waiting.add(spec.name);
  return waiting.size - 1;
}
