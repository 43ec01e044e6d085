import Type, { type Static } from 'typebox';
import { message, Name, Timestamp, Uint } from './common.js';

/**
 * Per-guest isolation: the manifest that splits a guest's services into sandboxed components
 * (`isolation-manifest`), the kernel-VM lifecycle events (`vmi.isolation.<guest>.<event>`), the
 * console lines the log shipper publishes (`vmi.isolation.<guest>.console`), and the control
 * service's requests and replies (`vmi.ctl.isolation`).
 */

/** A component or resource name: also used in cgroup and directory names. */
export const IsolationName = Type.String({ minLength: 1, maxLength: 32, pattern: '^[a-z][a-z0-9-]*$' });
/**
 * A path or argument with `${...}` placeholders: `${guest}` (the guest's slug), `${host}`,
 * `${prefix}`, `${native}` (the service's helper programs), `${resource.NAME}` (a resource
 * directory), `${image.kernel}`, `${image.initrd}`, `${subject.console}`, `${uffd.shim}` (the
 * userfaultfd preload shim library).
 */
export const Template = Type.String({ minLength: 1, maxLength: 4096 });
export const SyscallName = Type.String({ minLength: 1, maxLength: 64, pattern: '^(@[a-z][a-z0-9-]*|[a-z_][a-z0-9_]*)$' });
export const CapabilityName = Type.String({ pattern: '^CAP_[A-Z_]{2,30}$' });
export const Access = Type.Union([Type.Literal('ro'), Type.Literal('rw')]);

export const ResourceGrant = Type.Object(
  { kind: Type.Literal('resource'), resource: IsolationName, access: Access },
  { additionalProperties: false, description: "A directory of this guest's kernel VM, mounted at the same path" },
);
export const HostGrant = Type.Object(
  { kind: Type.Literal('host'), path: Template, access: Type.Literal('ro') },
  { additionalProperties: false, description: 'A host path, read-only, mounted at the same path (libraries, firmware, programs)' },
);
export const ImageGrant = Type.Object(
  { kind: Type.Literal('image'), access: Type.Literal('ro') },
  { additionalProperties: false, description: "The guest's kernel and initramfs, read-only" },
);
export const PathGrant = Type.Union([ResourceGrant, HostGrant, ImageGrant]);
export type PathGrant = Static<typeof PathGrant>;

export const Namespace = Type.Union([
  Type.Literal('user'),
  Type.Literal('pid'),
  Type.Literal('mount'),
  Type.Literal('net'),
  Type.Literal('ipc'),
  Type.Literal('uts'),
  Type.Literal('cgroup'),
]);
export type Namespace = Static<typeof Namespace>;

export const SocketFamily = Type.Union([Type.Literal('unix'), Type.Literal('inet'), Type.Literal('inet6'), Type.Literal('netlink')]);
export type SocketFamily = Static<typeof SocketFamily>;

/**
 * Network reach. `none`: an empty network namespace (loopback only). `nats-relay`: still an empty
 * namespace, plus a UNIX socket in the named resource that the service relays to the NATS server
 * and nowhere else.
 */
export const NetworkGrant = Type.Union([
  Type.Object({ mode: Type.Literal('none') }, { additionalProperties: false }),
  Type.Object({ mode: Type.Literal('nats-relay'), resource: IsolationName }, { additionalProperties: false }),
]);
export type NetworkGrant = Static<typeof NetworkGrant>;

/** What one component may do, as data: the execution environment is built from exactly this. */
export const PermissionProfile = Type.Object(
  {
    capabilities: Type.Array(CapabilityName, { maxItems: 41, description: 'Kept capabilities; all others are dropped' }),
    namespaces: Type.Array(Namespace, { minItems: 1, maxItems: 7 }),
    paths: Type.Array(PathGrant, { maxItems: 64 }),
    links: Type.Array(Type.Object({ path: Template, target: Template }, { additionalProperties: false }), { maxItems: 32 }),
    proc: Type.Boolean({ description: "Mount the sandbox's own /proc" }),
    dev: Type.Boolean({ description: 'Mount a minimal /dev (null, zero, random, urandom, tty)' }),
    tmp: Type.Boolean({ description: 'A private, size-limited tmpfs at /tmp' }),
    network: NetworkGrant,
    socket_families: Type.Array(SocketFamily, { maxItems: 4, description: 'Address families socket() may create' }),
    seccomp: Type.Object(
      {
        default_action: Type.Union([Type.Literal('errno'), Type.Literal('kill'), Type.Literal('log')]),
        allow: Type.Array(SyscallName, { minItems: 1, maxItems: 512, description: 'Syscall names, or @set names from syscall_sets' }),
      },
      { additionalProperties: false },
    ),
    limits: Type.Object(
      {
        memory_mib: Type.Integer({ minimum: 4, maximum: 1_048_576 }),
        pids: Type.Integer({ minimum: 2, maximum: 65_536, description: 'Tasks, counting the sandbox own two bubblewrap processes' }),
      },
      { additionalProperties: false },
    ),
    umask: Type.String({ pattern: '^0[0-7]{3}$' }),
  },
  { additionalProperties: false },
);
export type PermissionProfile = Static<typeof PermissionProfile>;

export const ExecProgram = Type.Object(
  { kind: Type.Literal('exec'), path: Template, args: Type.Array(Template, { maxItems: 64 }) },
  { additionalProperties: false },
);
/** The guest's QEMU: its command line comes from the guest image, its paths from here. */
export const DeviceModelProgram = Type.Object(
  {
    kind: Type.Literal('device-model'),
    ram_file: Template,
    qmp: Type.Array(Template, { minItems: 1, maxItems: 8, description: 'One QMP socket per client' }),
    gdb: Template,
    /** The console as a socket (interactive; it does not hold the guest) and a copy in a log file. */
    serial_socket: Template,
    serial_log: Template,
    /**
     * Start QEMU with the userfaultfd preload shim (`${uffd.shim}`), which hands the trap engine a
     * write-protect userfaultfd of guest RAM on `socket`. The profile must then grant the library
     * read-only and allow `userfaultfd`, and the socket must lie in a resource only this component
     * is granted; without this option `userfaultfd` must not be allowed.
     */
    uffd_shim: Type.Optional(
      Type.Object(
        { socket: Template },
        { additionalProperties: false, description: 'Preload the userfaultfd shim; it serves the descriptor on this UNIX socket' },
      ),
    ),
  },
  { additionalProperties: false },
);
export const ComponentProgram = Type.Union([ExecProgram, DeviceModelProgram]);
export type ComponentProgram = Static<typeof ComponentProgram>;

export const HealthCheck = Type.Union([
  Type.Object({ kind: Type.Literal('qmp'), socket: Template }, { additionalProperties: false }),
  Type.Object({ kind: Type.Literal('unix-connect'), socket: Template }, { additionalProperties: false }),
]);
export type HealthCheck = Static<typeof HealthCheck>;

export const RestartPolicy = Type.Object(
  {
    backoff_initial_ms: Type.Integer({ minimum: 0, maximum: 60_000 }),
    backoff_max_ms: Type.Integer({ minimum: 0, maximum: 600_000 }),
    /** This many exits within the window is a crash loop: the component stays down and an event says so. */
    crash_loop_restarts: Type.Integer({ minimum: 1, maximum: 1000 }),
    crash_loop_window_s: Type.Integer({ minimum: 1, maximum: 86_400 }),
    /** Consecutive failed health checks that count as a crash. */
    unhealthy_after: Type.Integer({ minimum: 1, maximum: 100 }),
  },
  { additionalProperties: false },
);

export const ComponentRole = Type.Union([
  Type.Literal('device-model'),
  Type.Literal('introspection-reader'),
  Type.Literal('input-proxy'),
  Type.Literal('log-shipper'),
  Type.Literal('other'),
]);
export type ComponentRole = Static<typeof ComponentRole>;

export const ComponentSpec = Type.Object(
  {
    name: IsolationName,
    role: ComponentRole,
    description: Type.String({ maxLength: 500 }),
    /** Components that must be healthy before this one starts. */
    after: Type.Array(IsolationName, { maxItems: 16 }),
    program: ComponentProgram,
    profile: PermissionProfile,
    health: HealthCheck,
    ready_timeout_ms: Type.Integer({ minimum: 100, maximum: 600_000 }),
    stop_timeout_ms: Type.Integer({ minimum: 10, maximum: 600_000 }),
    restart: RestartPolicy,
  },
  { additionalProperties: false },
);
export type ComponentSpec = Static<typeof ComponentSpec>;

/**
 * A directory of a guest's kernel VM. The owner component gets it read-write; components granted it
 * join its group (read-only or read-write by mode); nobody else can reach it. `relay: nats` puts the
 * service's NATS relay socket (`nats.sock`) in it.
 */
export const ResourceSpec = Type.Object(
  {
    owner: Type.Union([IsolationName, Type.Null()]),
    relay: Type.Optional(Type.Literal('nats')),
    description: Type.String({ maxLength: 500 }),
  },
  { additionalProperties: false },
);
export type ResourceSpec = Static<typeof ResourceSpec>;

export const IsolationManifest = Type.Object(
  {
    version: Type.Literal(1),
    syscall_sets: Type.Record(Type.String(), Type.Array(SyscallName, { maxItems: 512 })),
    resources: Type.Record(Type.String(), ResourceSpec),
    components: Type.Array(ComponentSpec, { minItems: 1, maxItems: 16 }),
    /** Paths the control service reports to clients (`ram_file`, `gdb_socket`, ...), as templates. */
    endpoints: Type.Record(Type.String(), Template),
  },
  {
    $id: 'isolation-manifest',
    title: 'isolation-manifest',
    description: "How a guest's services split into components, and each component's permission profile",
    additionalProperties: false,
  },
);
export type IsolationManifest = Static<typeof IsolationManifest>;

export const IsolationEventKind = Type.Union([
  Type.Literal('ensured'),
  Type.Literal('adopted'),
  Type.Literal('replaced'),
  Type.Literal('component-started'),
  Type.Literal('component-ready'),
  Type.Literal('component-exited'),
  Type.Literal('component-unhealthy'),
  Type.Literal('component-restarting'),
  Type.Literal('crash-loop'),
  Type.Literal('stopped'),
]);
export type IsolationEventKind = Static<typeof IsolationEventKind>;

export const ComponentExit = Type.Object(
  { code: Type.Union([Type.Integer(), Type.Null()]), signal: Type.Union([Type.String({ maxLength: 16 }), Type.Null()]) },
  { additionalProperties: false },
);

export const IsolationEvent = message(
  'isolation',
  {
    event: IsolationEventKind,
    kernel_vm: Type.String({ format: 'uuid' }),
    component: Type.Union([IsolationName, Type.Null()]),
    pid: Type.Union([Uint, Type.Null()]),
    restarts: Uint,
    exit: Type.Union([ComponentExit, Type.Null()]),
    reason: Type.Union([Type.String({ maxLength: 2000 }), Type.Null()]),
    /** Milliseconds the step took (start to ready, the back-off before a restart), when it has one. */
    duration_ms: Type.Union([Type.Number({ minimum: 0 }), Type.Null()]),
  },
  'Kernel-VM lifecycle: created, adopted, components started, exited, restarted, crash-looping, stopped',
);
export type IsolationEvent = Static<typeof IsolationEvent>;

export const IsolationConsole = message(
  'isolation-console',
  {
    /** Byte offset of the first line in the guest's console log. */
    offset: Uint,
    lines: Type.Array(Type.String({ maxLength: 6144 }), { minItems: 1, maxItems: 64 }),
  },
  "Lines of a guest's console, shipped by its kernel VM's log shipper",
);
export type IsolationConsole = Static<typeof IsolationConsole>;

export const GuestImageSpec = Type.Object(
  {
    kernel: Type.String({ minLength: 1, maxLength: 4096 }),
    initrd: Type.String({ minLength: 1, maxLength: 4096 }),
    append: Type.Optional(Type.String({ maxLength: 4096 })),
    memory_mib: Type.Optional(Type.Integer({ minimum: 16, maximum: 65_536 })),
  },
  { additionalProperties: false },
);
export type GuestImageSpec = Static<typeof GuestImageSpec>;

export const IsolationEnsureRequest = Type.Object(
  { guest: Name, image: Type.Optional(GuestImageSpec) },
  { additionalProperties: false, description: "Find the guest's kernel VM or create it" },
);
export type IsolationEnsureRequest = Static<typeof IsolationEnsureRequest>;

/** `list` and `reload-manifest` take no arguments. */
export const IsolationListRequest = Type.Object({}, { additionalProperties: false });
export type IsolationListRequest = Static<typeof IsolationListRequest>;

export const IsolationGuestRequest = Type.Object({ guest: Name }, { additionalProperties: false });
export type IsolationGuestRequest = Static<typeof IsolationGuestRequest>;

export const IsolationRestartRequest = Type.Object(
  { guest: Name, component: Type.Optional(IsolationName) },
  { additionalProperties: false, description: 'Restart one component, or the whole kernel VM; clears a crash loop' },
);
export type IsolationRestartRequest = Static<typeof IsolationRestartRequest>;

export const ComponentState = Type.Union([
  Type.Literal('starting'),
  Type.Literal('ready'),
  Type.Literal('backoff'),
  Type.Literal('crash-loop'),
  Type.Literal('stopping'),
  Type.Literal('stopped'),
]);
export type ComponentState = Static<typeof ComponentState>;

export const ComponentStatus = Type.Object(
  {
    name: IsolationName,
    role: ComponentRole,
    state: ComponentState,
    pid: Type.Union([Uint, Type.Null()]),
    uid: Uint,
    gid: Uint,
    restarts: Uint,
    started: Type.Union([Timestamp, Type.Null()]),
    last_exit: Type.Union([ComponentExit, Type.Null()]),
    cgroup: Type.String({ maxLength: 4096 }),
    limits: Type.Object({ memory_mib: Uint, pids: Uint }, { additionalProperties: false }),
  },
  { additionalProperties: false },
);
export type ComponentStatus = Static<typeof ComponentStatus>;

export const KernelVmState = Type.Union([
  Type.Literal('starting'),
  Type.Literal('running'),
  Type.Literal('degraded'),
  Type.Literal('stopping'),
  Type.Literal('stopped'),
]);
export type KernelVmState = Static<typeof KernelVmState>;

export const KernelVmStatus = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    guest: Name,
    slug: Type.String({ minLength: 1, maxLength: 64 }),
    state: KernelVmState,
    created: Timestamp,
    adopted: Type.Boolean(),
    directory: Type.String({ maxLength: 4096 }),
    endpoints: Type.Record(Type.String(), Type.String({ maxLength: 4096 })),
    components: Type.Array(ComponentStatus, { maxItems: 16 }),
  },
  { additionalProperties: false },
);
export type KernelVmStatus = Static<typeof KernelVmStatus>;

export const IsolationListReply = Type.Object(
  { kernel_vms: Type.Array(KernelVmStatus, { maxItems: 10_000 }) },
  { additionalProperties: false },
);
export type IsolationListReply = Static<typeof IsolationListReply>;

export const IsolationManifestReply = Type.Object(
  {
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    components: Type.Array(IsolationName, { maxItems: 16 }),
    loaded: Timestamp,
  },
  { additionalProperties: false },
);
export type IsolationManifestReply = Static<typeof IsolationManifestReply>;
