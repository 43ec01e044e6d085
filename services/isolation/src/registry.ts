import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import {
  type GuestImageSpec,
  IsolationErrors,
  type IsolationEvent,
  type KernelVmStatus,
  newId,
  nowIso,
  SCHEMA_VERSION,
  slugToken,
  VmiError,
} from '@vmi/contracts';
import type { Logger } from '@vmi/service-runtime';
import { KernelVm, type KernelVmEnvironment } from './kernel-vm/kernel-vm.js';
import type { LoadedManifest } from './manifest/load.js';
import { removeCgroupDirs } from './sandbox/cgroups.js';
import { freeSlot } from './sandbox/ids.js';
import type { KernelVmRecord, StateStore } from './state-store.js';

export interface RegistryOptions {
  readonly env: KernelVmEnvironment;
  readonly store: StateStore;
  readonly manifest: LoadedManifest;
  /** Used when an ensure request names no image. */
  readonly defaultImage: GuestImageSpec | null;
  readonly maxKernelVms: number;
  /** Where lifecycle events go (NATS in the service); must not throw. */
  readonly publish: (guest: string, event: IsolationEvent) => void;
  readonly logger: Logger;
  /** How long `ensure` waits for every component to be healthy. */
  readonly ensureTimeoutMs: number;
}

/**
 * Kernel VMs by guest. `ensure` finds a guest's kernel VM or creates it: concurrent calls for one
 * guest share one creation, so a guest never gets two. Every change is persisted, and `recover`
 * (at start) adopts what a previous service process left running or cleanly replaces it.
 */
export class KernelVmRegistry {
  private readonly kvms = new Map<string, KernelVm>();
  private readonly creating = new Map<string, Promise<KernelVm>>();
  private manifest: LoadedManifest;
  private closed = false;

  constructor(private readonly options: RegistryOptions) {
    this.manifest = options.manifest;
  }

  get currentManifest(): LoadedManifest {
    return this.manifest;
  }

  /** Takes a new manifest for kernel VMs created from now on (existing ones keep theirs until replaced). */
  useManifest(manifest: LoadedManifest): void {
    this.manifest = manifest;
  }

  async ensure(guest: string, image?: GuestImageSpec): Promise<KernelVmStatus> {
    if (this.closed) throw new VmiError(IsolationErrors.STOPPING, 'the isolation service is shutting down');
    const slug = slugToken(guest);
    const existing = this.kvms.get(slug);
    if (existing !== undefined && existing.guest !== guest) {
      throw new VmiError(IsolationErrors.SLUG_CONFLICT, `guest names "${existing.guest}" and "${guest}" share a slug`);
    }
    // A creation in flight is joined, never repeated: concurrent callers get the same kernel VM.
    let pending = this.creating.get(slug);
    if (pending === undefined && existing === undefined) {
      pending = this.create(guest, slug, image ?? this.options.defaultImage).finally(() => this.creating.delete(slug));
      this.creating.set(slug, pending);
    }
    const kvm = pending === undefined ? (existing as KernelVm) : await pending;
    await this.waitReady(kvm);
    return kvm.status();
  }

  private async waitReady(kvm: KernelVm): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new VmiError(IsolationErrors.NOT_READY, `${kvm.guest}: not healthy within ${this.options.ensureTimeoutMs} ms`)),
        this.options.ensureTimeoutMs,
      );
    });
    try {
      await Promise.race([Promise.all(kvm.components.map((c) => c.whenReady())), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async create(guest: string, slug: string, image: GuestImageSpec | null): Promise<KernelVm> {
    const manifest = this.manifest;
    if (manifest.manifest.components.some((c) => c.program.kind === 'device-model')) {
      if (image === null) throw new VmiError(IsolationErrors.IMAGE, `${guest}: no guest image given and none configured`);
      await checkImage(image);
    }
    const shim = manifest.manifest.components.find((c) => c.program.kind === 'device-model' && c.program.uffd_shim !== undefined);
    if (shim !== undefined && this.options.env.uffdShim === null) {
      throw new VmiError(IsolationErrors.NATIVE, `${guest}: "${shim.name}" asks for the userfaultfd shim, and none is built or configured`);
    }
    const used = new Set([...this.kvms.values()].map((k) => k.identity.slot));
    const slot = freeSlot(used, this.options.maxKernelVms);
    if (slot === null) throw new VmiError(IsolationErrors.ID_SPACE, `${this.options.maxKernelVms} kernel VMs in use`);
    const kvm = this.build({
      id: newId(),
      guest,
      slug,
      slot,
      created: nowIso(),
      image,
      manifest_sha256: manifest.sha256,
      manifest: manifest.manifest,
      components: [],
    });
    this.kvms.set(slug, kvm);
    const started = Date.now();
    try {
      // Recorded before any of its processes exists (so a restarted service finds and cleans them
      // up), while its directories and cgroups are being made.
      await kvm.start(this.persist());
    } catch (err) {
      // The kernel VM stays registered (degraded) so it can be inspected, restarted or stopped.
      this.options.logger.error({ err, guest }, 'kernel VM did not start cleanly');
      throw err;
    }
    kvm.emit('ensured', null, Date.now() - started);
    return kvm;
  }

  private build(record: KernelVmRecord): KernelVm {
    return new KernelVm(
      {
        id: record.id,
        guest: record.guest,
        slug: record.slug,
        slot: record.slot,
        created: record.created,
        image: record.image,
        manifest: record.manifest,
        manifestSha256: record.manifest_sha256,
      },
      this.options.env,
      (kvm, e) => this.options.publish(kvm.guest, this.event(kvm, e)),
      () => void this.persist(),
    );
  }

  private event(kvm: KernelVm, e: Parameters<ConstructorParameters<typeof KernelVm>[2]>[1]): IsolationEvent {
    return {
      id: newId(),
      time: nowIso(),
      version: SCHEMA_VERSION,
      type: 'isolation',
      host: this.options.env.host,
      guest: kvm.guest,
      event: e.event,
      kernel_vm: kvm.identity.id,
      component: e.component,
      pid: e.pid,
      restarts: e.restarts,
      exit: e.exit,
      reason: e.reason,
      duration_ms: e.durationMs,
    };
  }

  private records(): KernelVmRecord[] {
    return [...this.kvms.values()].map((k) => ({
      id: k.identity.id,
      guest: k.identity.guest,
      slug: k.identity.slug,
      slot: k.identity.slot,
      created: k.identity.created,
      image: k.identity.image,
      manifest_sha256: k.identity.manifestSha256,
      manifest: k.identity.manifest,
      components: k.records(),
    }));
  }

  private persist(): Promise<void> {
    return this.options.store.save(this.records()).catch((err) => {
      this.options.logger.error({ err }, 'could not write the kernel-VM state file');
    });
  }

  private find(guest: string): KernelVm {
    const kvm = this.kvms.get(slugToken(guest));
    if (kvm === undefined || kvm.guest !== guest) throw new VmiError(IsolationErrors.UNKNOWN_GUEST, guest);
    return kvm;
  }

  inspect(guest: string): KernelVmStatus {
    return this.find(guest).status();
  }

  list(): KernelVmStatus[] {
    return [...this.kvms.values()].map((k) => k.status());
  }

  /** The kernel VM object itself (tests and the benchmark reach its components). */
  kernelVm(guest: string): KernelVm {
    return this.find(guest);
  }

  async stop(guest: string): Promise<KernelVmStatus> {
    await this.creating.get(slugToken(guest))?.catch(() => undefined);
    const kvm = this.find(guest);
    await kvm.stop();
    this.kvms.delete(kvm.identity.slug);
    await this.persist();
    kvm.emit('stopped', 'requested');
    return kvm.status();
  }

  /** Restarts one component, or every component in order; a crash-looping component starts afresh. */
  async restart(guest: string, component?: string): Promise<KernelVmStatus> {
    const kvm = this.find(guest);
    if (component !== undefined) {
      const c = kvm.component(component);
      if (c === undefined) throw new VmiError(IsolationErrors.UNKNOWN_COMPONENT, `${guest}/${component}`);
      await c.restart();
    } else {
      for (const c of [...kvm.components].reverse()) await c.stop();
      for (const c of kvm.components) {
        c.restarts++;
        await c.start();
      }
    }
    return kvm.status();
  }

  /**
   * Reads the state file: a kernel VM whose every component is still the process this service
   * started is adopted; anything less is stopped (leftover processes killed, directories removed)
   * and started again from its record, so nothing half-alive is left behind.
   */
  async recover(): Promise<{ adopted: string[]; replaced: string[] }> {
    const records = await this.options.store.load();
    const adopted: string[] = [];
    const replaced: string[] = [];
    for (const record of records) {
      const kvm = this.build(record);
      if (await kvm.adopt(record.components)) {
        this.kvms.set(record.slug, kvm);
        adopted.push(record.guest);
        kvm.emit('adopted', null);
        continue;
      }
      await kvm.stop();
      const fresh = this.build({ ...record, id: newId(), components: [] });
      this.kvms.set(record.slug, fresh);
      replaced.push(record.guest);
      fresh.emit('replaced', `kernel VM ${record.id} was not complete after the restart`);
      fresh.start().catch((err) => this.options.logger.error({ err, guest: record.guest }, 'replacement did not start cleanly'));
    }
    await this.persist();
    return { adopted, replaced };
  }

  /**
   * Ends this registry. `stopAll` stops every kernel VM (a full shutdown); otherwise they keep
   * running for the next service process to adopt.
   */
  async close(options: { stopAll: boolean }): Promise<void> {
    this.closed = true;
    await Promise.all([...this.creating.values()].map((p) => p.catch(() => undefined)));
    for (const kvm of this.kvms.values()) {
      if (options.stopAll) {
        await kvm.stop();
        kvm.emit('stopped', 'service shutdown');
      } else {
        await kvm.detach();
      }
    }
    if (options.stopAll) {
      this.kvms.clear();
      await removeCgroupDirs(this.options.env.cgroups, [this.options.env.cgroupRoot]);
    }
    await this.persist();
  }
}

async function checkImage(image: GuestImageSpec): Promise<void> {
  for (const file of [image.kernel, image.initrd]) {
    try {
      await access(file, constants.R_OK);
    } catch (cause) {
      throw new VmiError(IsolationErrors.IMAGE, file, { cause });
    }
  }
}
