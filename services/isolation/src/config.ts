import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Type, { type Static } from 'typebox';

/** The manifest shipped with the service: the four components of a guest's kernel VM. */
export const DEFAULT_MANIFEST = join(dirname(fileURLToPath(import.meta.url)), '..', 'manifests', 'kernel-vm.json');

/** The isolation service's own settings (environment: ISOLATION_MANIFEST, ISOLATION_STATE_DIR, ...). */
export const IsolationConfig = Type.Object({
  isolationManifest: Type.String({ minLength: 1, default: DEFAULT_MANIFEST }),
  /** The registry's state file and lock; must survive a service restart. */
  isolationStateDir: Type.String({ minLength: 1, default: '/var/lib/vmi-isolation' }),
  /** Kernel-VM directories (guest RAM files, sockets): a tmpfs, so guest RAM is memory. */
  isolationRunDir: Type.String({ minLength: 1, default: '/dev/shm/vmi-isolation' }),
  isolationLogDir: Type.String({ minLength: 1, default: '/var/log/vmi-isolation' }),
  /** First host uid/gid of the kernel VMs' id blocks (64 ids per kernel VM). */
  isolationIdBase: Type.Integer({ minimum: 1000, maximum: 2_000_000_000, default: 400_000 }),
  isolationMaxKernelVms: Type.Integer({ minimum: 1, maximum: 10_000, default: 256 }),
  /** Name of this service's cgroup directory under each hierarchy. */
  isolationCgroupName: Type.String({ pattern: '^[a-z0-9][a-z0-9_.-]*$', maxLength: 64, default: 'vmi-isolation' }),
  isolationGuestKernel: Type.Optional(Type.String({ minLength: 1 })),
  isolationGuestInitrd: Type.Optional(Type.String({ minLength: 1 })),
  isolationHealthIntervalMs: Type.Integer({ minimum: 50, maximum: 600_000, default: 2000 }),
  isolationEnsureTimeoutMs: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 60_000 }),
  /** Stop every kernel VM when the service stops (otherwise the next service process adopts them). */
  isolationStopOnShutdown: Type.Boolean({ default: false }),
  bwrapPath: Type.String({ minLength: 1, default: '/usr/bin/bwrap' }),
  qemuPath: Type.String({ minLength: 1, default: '/usr/bin/qemu-system-x86_64' }),
  /** The userfaultfd preload shim for device models with `uffd_shim` (default: the one built with @vmi/native-core). */
  isolationUffdShim: Type.Optional(Type.String({ minLength: 1 })),
});
export type IsolationConfig = Static<typeof IsolationConfig>;
