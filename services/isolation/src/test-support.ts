// biome-ignore-all lint/suspicious/noTemplateCurlyInString: manifests use ${...} placeholders, filled in by the isolation service
import { randomBytes, randomInt } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type GuestImageSpec, type IsolationEvent, type IsolationManifest, Subjects, streamDefinition } from '@vmi/contracts';
import { ensureGuestImage } from '@vmi/guest';
import { connectNats, createLogger, deleteStreams, ensureStreams, jetstream } from '@vmi/service-runtime';
import { DEFAULT_MANIFEST, type IsolationConfig } from './config.js';
import { NATIVE_BUILD_DIR } from './native.js';
import { createIsolationService, type IsolationService } from './service.js';

export const TEST_NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';

export async function defaultManifest(): Promise<IsolationManifest> {
  return JSON.parse(await readFile(DEFAULT_MANIFEST, 'utf8')) as IsolationManifest;
}

/** The test guest built by @vmi/guest, as an ensure request names it. */
export async function testGuestImage(): Promise<GuestImageSpec> {
  const image = await ensureGuestImage();
  return { kernel: image.kernelPath, initrd: image.initrdPath, memory_mib: 128 };
}

/**
 * The default manifest plus a `probe` component: the static probe program serving a socket, with a
 * tight profile (read-only on its guest's RAM, no network, a filter without `sysinfo`, `uname` and
 * `ptrace`, 32 MiB and 8 tasks). Tests run probe checks in its execution environment.
 */
export function withProbe(
  manifest: IsolationManifest,
  changes: { program?: string[]; crashLoop?: { restarts: number } } = {},
): IsolationManifest {
  const probe = {
    name: 'probe',
    role: 'other' as const,
    description: 'Attempts what its sandbox must prevent, and reports',
    after: ['device-model'],
    program: { kind: 'exec' as const, path: '${native}/probe', args: changes.program ?? ['serve', '${resource.probe}/probe.sock'] },
    profile: {
      capabilities: [],
      namespaces: [
        'user',
        'pid',
        'mount',
        'net',
        'ipc',
        'uts',
        'cgroup',
      ] as IsolationManifest['components'][number]['profile']['namespaces'],
      paths: [
        { kind: 'host' as const, path: '${native}/probe', access: 'ro' as const },
        { kind: 'resource' as const, resource: 'ram', access: 'ro' as const },
        { kind: 'resource' as const, resource: 'probe', access: 'rw' as const },
      ],
      links: [],
      proc: true,
      dev: false,
      tmp: false,
      network: { mode: 'none' as const },
      socket_families: ['unix' as const],
      seccomp: {
        default_action: 'errno' as const,
        allow: [
          '@runtime',
          'socket',
          'bind',
          'listen',
          'accept4',
          'connect',
          'unlink',
          'getdents64',
          'setuid',
          'capget',
          'capset',
          'unshare',
          'clone',
          'kill',
          'pause',
          'ioctl',
          'readlink',
        ],
      },
      limits: { memory_mib: 32, pids: 8 },
      umask: '0007',
    },
    health: { kind: 'unix-connect' as const, socket: '${resource.probe}/probe.sock' },
    ready_timeout_ms: 5000,
    stop_timeout_ms: 1000,
    restart: {
      backoff_initial_ms: 50,
      backoff_max_ms: 400,
      crash_loop_restarts: changes.crashLoop?.restarts ?? 5,
      crash_loop_window_s: 60,
      unhealthy_after: 3,
    },
  };
  return {
    ...manifest,
    resources: { ...manifest.resources, probe: { owner: 'probe', description: 'The probe socket' } },
    components: [...manifest.components, probe],
  };
}

/**
 * The manifest with the device model's userfaultfd shim off (the shipped manifest has it on): no
 * preload, no hand-over socket resource or endpoint, and no `userfaultfd` in any filter.
 */
export function withoutUffdShim(manifest: IsolationManifest): IsolationManifest {
  const { uffd: _resource, ...resources } = manifest.resources;
  const { uffd_socket: _endpoint, ...endpoints } = manifest.endpoints;
  const { 'uffd-shim': _set, ...syscall_sets } = manifest.syscall_sets;
  return {
    ...manifest,
    syscall_sets,
    resources,
    components: manifest.components.map((c) => {
      if (c.program.kind !== 'device-model') return c;
      const { uffd_shim: _shim, ...program } = c.program;
      return {
        ...c,
        program,
        profile: {
          ...c.profile,
          paths: c.profile.paths.filter(
            (g) => !(g.kind === 'host' && g.path === '${uffd.shim}') && !(g.kind === 'resource' && g.resource === 'uffd'),
          ),
          seccomp: { ...c.profile.seccomp, allow: c.profile.seccomp.allow.filter((a) => a !== '@uffd-shim') },
        },
      };
    }),
    endpoints,
  };
}

/** A kernel VM of the probe alone (no guest, no QEMU): for supervision and control tests. */
export function probeOnly(manifest: IsolationManifest, changes: Parameters<typeof withProbe>[1] = {}): IsolationManifest {
  const full = withProbe(manifest, changes);
  const probe = full.components.at(-1) as IsolationManifest['components'][number];
  return {
    version: 1,
    syscall_sets: manifest.syscall_sets,
    resources: { probe: { owner: 'probe', description: 'The probe socket' } },
    components: [
      {
        ...probe,
        after: [],
        profile: { ...probe.profile, paths: probe.profile.paths.filter((g) => g.kind !== 'resource' || g.resource !== 'ram') },
      },
    ],
    endpoints: { probe_socket: '${resource.probe}/probe.sock' },
  };
}

/** Runs the probe in a component's execution environment; one parsed report per check. */
export async function runProbe(h: Harness, guest: string, component: string, ops: string[]): Promise<ProbeReport[]> {
  const kvm = h.registry.kernelVm(guest);
  const result = await kvm.exec(component, [join(NATIVE_BUILD_DIR, 'probe'), ...ops]);
  if (result.code !== 0) throw new Error(`probe exited ${result.code} ${result.signal}: ${result.stderr}`);
  return result.stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as ProbeReport);
}

export interface ProbeReport {
  readonly check: string;
  readonly target: string;
  readonly outcome: 'allowed' | 'denied';
  readonly errno: string;
  readonly detail: string;
}

export interface HarnessOptions {
  readonly manifest?: IsolationManifest;
  readonly healthIntervalMs?: number;
  /** Reuse the directories (and state file) of an earlier harness: a service restart. */
  readonly dirs?: HarnessDirs;
  /**
   * Kernel-VM directories on a tmpfs (as the service's default `/dev/shm/vmi-isolation`), not beside
   * the state: userfaultfd write-protects guest RAM only where it is shared memory.
   */
  readonly runOnTmpfs?: boolean;
}

export interface HarnessDirs {
  readonly base: string;
  readonly idBase: number;
  readonly cgroupName: string;
  readonly prefix: string;
}

/**
 * A real isolation service against the shared NATS server, in private directories, a private
 * cgroup directory, a private id range and a private subject prefix, so test files never collide.
 */
export async function startHarness(options: HarnessOptions = {}) {
  const dirs: HarnessDirs = options.dirs ?? {
    base: await mkdtemp(join(tmpdir(), 'vmi-isolation-test-')),
    // 64 ids per kernel VM, 256 kernel VMs: a random block far above real accounts.
    idBase: 1_000_000 + randomInt(0, 2000) * 64 * 256,
    cgroupName: `vmi-isolation-test-${randomBytes(4).toString('hex')}`,
    prefix: `t${randomBytes(5).toString('hex')}`,
  };
  // Components run as their own users: they must be able to walk down to their directories.
  await chmod(dirs.base, 0o711);
  const runDir = options.runOnTmpfs === true ? await mkdtemp('/dev/shm/vmi-isolation-test-') : join(dirs.base, 'run');
  await mkdir(runDir, { recursive: true, mode: 0o711 });
  await chmod(runDir, 0o711);
  const manifestFile = join(dirs.base, 'manifest.json');
  if (options.manifest !== undefined || options.dirs === undefined) {
    await writeFile(manifestFile, JSON.stringify(options.manifest ?? (await defaultManifest()), null, 2));
  }
  const logger = createLogger({ service: 'isolation-test', level: process.env.LOG_LEVEL ?? 'silent' });
  const nc = await connectNats({ servers: TEST_NATS_URL, name: `isolation-test-${dirs.prefix}`, logger });
  const subjects = new Subjects(dirs.prefix);
  const stream = streamDefinition('isolation', dirs.prefix);
  await ensureStreams(nc, [stream]);
  const events: IsolationEvent[] = [];
  const sub = nc.subscribe(subjects.all('isolation'));
  void (async () => {
    for await (const m of sub) {
      const body = m.json<{ type?: string }>();
      if (body.type === 'isolation') events.push(body as IsolationEvent);
    }
  })();
  const config: IsolationConfig & { natsUrl: string; hostName: string } = {
    natsUrl: TEST_NATS_URL,
    hostName: 'test-host',
    isolationManifest: manifestFile,
    isolationStateDir: join(dirs.base, 'state'),
    isolationRunDir: runDir,
    isolationLogDir: join(dirs.base, 'log'),
    isolationIdBase: dirs.idBase,
    isolationMaxKernelVms: 256,
    isolationCgroupName: dirs.cgroupName,
    isolationHealthIntervalMs: options.healthIntervalMs ?? 500,
    isolationEnsureTimeoutMs: 60_000,
    isolationStopOnShutdown: false,
    bwrapPath: '/usr/bin/bwrap',
    qemuPath: '/usr/bin/qemu-system-x86_64',
  };
  const service: IsolationService = await createIsolationService({ config, nc, js: jetstream(nc), subjects, logger });
  return {
    dirs,
    config,
    service,
    registry: service.registry,
    nc,
    subjects,
    events,
    manifestFile,
    /** Events of one kind (and component) seen so far. */
    seen(event: IsolationEvent['event'], component?: string): IsolationEvent[] {
      return events.filter((e) => e.event === event && (component === undefined || e.component === component));
    },
    /** Ends this service process, leaving kernel VMs running (a restart) or stopping them. */
    async close(closeOptions: { stopAll: boolean; keepDirs?: boolean } = { stopAll: true }): Promise<void> {
      await service.close({ stopAll: closeOptions.stopAll });
      sub.unsubscribe();
      if (!closeOptions.keepDirs) {
        await deleteStreams(nc, [stream.name]);
        await rm(dirs.base, { recursive: true, force: true });
        if (runDir !== join(dirs.base, 'run')) await rm(runDir, { recursive: true, force: true });
      }
      await nc.drain();
    },
  };
}

export type Harness = Awaited<ReturnType<typeof startHarness>>;

/** Polls until `predicate` holds; rejects after `timeoutMs` naming `what`. */
export async function eventually(predicate: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
