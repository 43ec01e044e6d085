import type { Service } from '@nats-io/services';
import type { NatsConnection } from '@nats-io/transport-node';
import { type GuestImageSpec, type IsolationManifestReply, type Subjects, validators } from '@vmi/contracts';
import { uffdShimPath } from '@vmi/native-core';
import type { JetStreamClient, Logger } from '@vmi/service-runtime';
import type { IsolationConfig } from './config.js';
import { startIsolationControl } from './control.js';
import { createEventPublisher, type EventPublisher } from './events.js';
import { natsTarget } from './kernel-vm/nats-relay.js';
import { type LoadedManifest, loadManifestFile } from './manifest/load.js';
import { buildNative } from './native.js';
import { KernelVmRegistry } from './registry.js';
import { detectCgroups } from './sandbox/cgroups.js';
import { StateStore } from './state-store.js';

export interface IsolationServiceDeps {
  readonly config: IsolationConfig & {
    readonly natsUrl: string;
    readonly hostName: string;
    readonly natsUser?: string | undefined;
    readonly natsPass?: string | undefined;
  };
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly subjects: Subjects;
  readonly logger: Logger;
}

export interface IsolationService {
  readonly registry: KernelVmRegistry;
  readonly control: Service;
  readonly events: EventPublisher;
  readonly manifestRejections: { count: number };
  reloadManifest(): Promise<IsolationManifestReply>;
  /** Stops the control service; kernel VMs are stopped or left for the next process to adopt. */
  close(options?: { stopAll?: boolean }): Promise<void>;
}

function manifestReply(m: LoadedManifest): IsolationManifestReply {
  return { sha256: m.sha256, components: m.manifest.components.map((c) => c.name), loaded: m.loadedAt };
}

/** The shim built with the native core, or null where it is not built (only `uffd_shim` manifests need it). */
function builtUffdShim(): string | null {
  try {
    return uffdShimPath();
  } catch {
    return null;
  }
}

/**
 * Builds the isolation service: helper programs, manifest, cgroups, state (adopting what a previous
 * process left running), lifecycle events and the control service.
 */
export async function createIsolationService(deps: IsolationServiceDeps): Promise<IsolationService> {
  const { config, logger } = deps;
  const nativeDir = await buildNative();
  const manifest = await loadManifestFile(config.isolationManifest, nativeDir);
  const cgroups = await detectCgroups();
  logger.info({ cgroups, manifest: config.isolationManifest, sha256: manifest.sha256 }, 'isolation manifest loaded');
  const store = new StateStore(config.isolationStateDir);
  await store.lock();
  const events = createEventPublisher(deps.js, deps.subjects, logger);
  const defaultImage: GuestImageSpec | null =
    config.isolationGuestKernel !== undefined && config.isolationGuestInitrd !== undefined
      ? { kernel: config.isolationGuestKernel, initrd: config.isolationGuestInitrd }
      : null;
  const registry = new KernelVmRegistry({
    env: {
      runDir: config.isolationRunDir,
      logDir: config.isolationLogDir,
      idBase: config.isolationIdBase,
      cgroups,
      cgroupRoot: config.isolationCgroupName,
      nativeDir,
      bwrap: config.bwrapPath,
      qemu: config.qemuPath,
      uffdShim: config.isolationUffdShim ?? builtUffdShim(),
      host: config.hostName,
      prefix: deps.subjects.prefix,
      consoleSubject: (guest) => deps.subjects.isolation(guest, 'console'),
      natsTarget: natsTarget(config.natsUrl, { user: config.natsUser, pass: config.natsPass }),
      healthIntervalMs: config.isolationHealthIntervalMs,
      logger,
    },
    store,
    manifest,
    defaultImage,
    maxKernelVms: config.isolationMaxKernelVms,
    publish: (guest, event) => events.publish(guest, event),
    logger,
    ensureTimeoutMs: config.isolationEnsureTimeoutMs,
  });
  const recovered = await registry.recover();
  if (recovered.adopted.length + recovered.replaced.length > 0) logger.info(recovered, 'kernel VMs recovered from the state file');

  const manifestRejections = { count: 0 };
  async function reloadManifest(): Promise<IsolationManifestReply> {
    try {
      const next = await loadManifestFile(config.isolationManifest, nativeDir);
      registry.useManifest(next);
      logger.info({ sha256: next.sha256 }, 'isolation manifest reloaded');
      return manifestReply(next);
    } catch (err) {
      manifestRejections.count++;
      logger.warn({ err }, 'isolation manifest refused; keeping the current one');
      throw err;
    }
  }

  const control = await startIsolationControl(
    deps.nc,
    deps.subjects,
    config.hostName,
    {
      ensure: (r) => registry.ensure(r.guest, r.image),
      inspect: (guest) => registry.inspect(guest),
      list: () => validators.isolationListReply.parse({ kernel_vms: registry.list() }),
      stop: (guest) => registry.stop(guest),
      restart: (guest, component) => registry.restart(guest, component),
      reloadManifest,
      rejected: { count: 0 },
    },
    logger,
  );

  return {
    registry,
    control,
    events,
    manifestRejections,
    reloadManifest,
    async close(options = {}) {
      await control.stop().catch(() => undefined);
      await registry.close({ stopAll: options.stopAll ?? config.isolationStopOnShutdown });
      await events.flush();
      await store.unlock();
    },
  };
}
