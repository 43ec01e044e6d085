// biome-ignore-all lint/suspicious/noTemplateCurlyInString: manifests use ${...} placeholders, filled in by the isolation service
import type { ComponentSpec, IsolationConsole, IsolationEvent, IsolationManifest, KernelVmStatus } from '../schemas/isolation.js';
import type { SchemaExamples } from './types.js';
import { envelopeBadExamples, withField, withoutField } from './types.js';

const reader: ComponentSpec = {
  name: 'introspection-reader',
  role: 'introspection-reader',
  description: 'Maps the guest RAM file read-only and serves reads of it',
  after: [],
  program: { kind: 'exec', path: '${native}/ram-reader', args: ['${resource.ram}/guest.ram', '${resource.reader}/reader.sock'] },
  profile: {
    capabilities: [],
    namespaces: ['user', 'pid', 'mount', 'net', 'ipc', 'uts', 'cgroup'],
    paths: [
      { kind: 'host', path: '/usr', access: 'ro' },
      { kind: 'resource', resource: 'ram', access: 'ro' },
      { kind: 'resource', resource: 'reader', access: 'rw' },
    ],
    links: [{ path: '/lib64', target: 'usr/lib64' }],
    proc: false,
    dev: false,
    tmp: false,
    network: { mode: 'none' },
    socket_families: ['unix'],
    seccomp: { default_action: 'errno', allow: ['@runtime', 'socket', 'bind', 'listen', 'accept4'] },
    limits: { memory_mib: 64, pids: 8 },
    umask: '0007',
  },
  health: { kind: 'unix-connect', socket: '${resource.reader}/reader.sock' },
  ready_timeout_ms: 10_000,
  stop_timeout_ms: 3000,
  restart: { backoff_initial_ms: 100, backoff_max_ms: 5000, crash_loop_restarts: 5, crash_loop_window_s: 60, unhealthy_after: 3 },
};

const manifest: IsolationManifest = {
  version: 1,
  syscall_sets: { runtime: ['execve', 'brk', 'mmap', 'read', 'write', 'close', 'exit_group'] },
  resources: {
    ram: { owner: null, description: 'Guest RAM file' },
    reader: { owner: 'introspection-reader', description: "The reader's socket" },
  },
  components: [reader],
  endpoints: { reader_socket: '${resource.reader}/reader.sock' },
};

const event: IsolationEvent = {
  id: '01890a5d-ac96-774b-bcce-b302099a8057',
  time: '2026-01-01T00:00:00.000Z',
  version: 1,
  type: 'isolation',
  host: 'hv-1',
  guest: 'web-1',
  event: 'component-exited',
  kernel_vm: '01890a5d-ac96-774b-bcce-b302099a8058',
  component: 'device-model',
  pid: 4242,
  restarts: 1,
  exit: { code: null, signal: 'SIGKILL' },
  reason: null,
  duration_ms: null,
};

const consoleLines: IsolationConsole = {
  id: '01890a5d-ac96-774b-bcce-b302099a8059',
  time: '2026-01-01T00:00:00.000Z',
  version: 1,
  type: 'isolation-console',
  host: 'hv-1',
  guest: 'web-1',
  offset: 0,
  lines: ['Linux version 6.1.0', 'ready'],
};

const status: KernelVmStatus = {
  id: '01890a5d-ac96-774b-bcce-b302099a8058',
  guest: 'web-1',
  slug: 'web-1',
  state: 'running',
  created: '2026-01-01T00:00:00.000Z',
  adopted: false,
  directory: '/dev/shm/vmi-isolation/web-1',
  endpoints: { gdb_socket: '/dev/shm/vmi-isolation/web-1/monitor/gdb.sock' },
  components: [
    {
      name: 'device-model',
      role: 'device-model',
      state: 'ready',
      pid: 4242,
      uid: 400_000,
      gid: 400_000,
      restarts: 0,
      started: '2026-01-01T00:00:00.000Z',
      last_exit: null,
      cgroup: '/sys/fs/cgroup/vmi-isolation/web-1/device-model',
      limits: { memory_mib: 768, pids: 64 },
    },
  ],
};

export const ISOLATION_EXAMPLES = {
  'isolation-event': {
    good: event,
    bad: [
      ...envelopeBadExamples(event),
      { why: 'an unknown event kind', value: withField(event, '/event', 'exploded'), path: '/event' },
      { why: 'the component name has upper case', value: withField(event, '/component', 'Device'), path: '/component' },
      { why: 'restarts is negative', value: withField(event, '/restarts', -1), path: '/restarts' },
    ],
  },
  'isolation-console': {
    good: consoleLines,
    bad: [
      ...envelopeBadExamples(consoleLines),
      { why: 'no lines', value: withField(consoleLines, '/lines', []), path: '/lines' },
      { why: 'offset is missing', value: withoutField(consoleLines, '/offset'), path: '/offset' },
    ],
  },
  'isolation-manifest': {
    good: manifest,
    bad: [
      { why: 'an unknown version', value: withField(manifest, '/version', 2), path: '/version' },
      { why: 'no components', value: withField(manifest, '/components', []), path: '/components' },
      {
        why: 'a umask that is not octal',
        value: withField(manifest, '/components/0/profile/umask', '0999'),
        path: '/components/0/profile/umask',
      },
      {
        why: 'a seccomp default action that does not exist',
        value: withField(manifest, '/components/0/profile/seccomp/default_action', 'allow'),
        path: '/components/0/profile/seccomp/default_action',
      },
      {
        why: 'a pid limit of one',
        value: withField(manifest, '/components/0/profile/limits/pids', 1),
        path: '/components/0/profile/limits/pids',
      },
      {
        why: 'a capability without the CAP_ prefix',
        value: withField(manifest, '/components/0/profile/capabilities', ['SYS_ADMIN']),
        path: '/components/0/profile/capabilities/0',
      },
    ],
  },
  'isolation-ensure-request': {
    good: { guest: 'web-1', image: { kernel: '/var/lib/vmi/vmlinuz', initrd: '/var/lib/vmi/initrd.gz', memory_mib: 256 } },
    bad: [
      { why: 'guest is missing', value: {}, path: '/guest' },
      {
        why: 'memory too small',
        value: { guest: 'web-1', image: { kernel: '/k', initrd: '/i', memory_mib: 1 } },
        path: '/image/memory_mib',
      },
      { why: 'an unknown property', value: { guest: 'web-1', force: true }, path: '/force' },
    ],
  },
  'isolation-guest-request': {
    good: { guest: 'web-1' },
    bad: [
      { why: 'guest is empty', value: { guest: '' }, path: '/guest' },
      { why: 'guest is a number', value: { guest: 7 }, path: '/guest' },
      { why: 'an unknown property', value: { guest: 'web-1', all: true }, path: '/all' },
    ],
  },
  'isolation-restart-request': {
    good: { guest: 'web-1', component: 'device-model' },
    bad: [
      { why: 'guest is missing', value: { component: 'device-model' }, path: '/guest' },
      { why: 'the component name has a slash', value: { guest: 'web-1', component: 'a/b' }, path: '/component' },
      { why: 'an unknown property', value: { guest: 'web-1', hard: true }, path: '/hard' },
    ],
  },
  'isolation-kernel-vm-status': {
    good: status,
    bad: [
      { why: 'an unknown state', value: withField(status, '/state', 'melting'), path: '/state' },
      { why: 'a component without a name', value: withoutField(status, '/components/0/name'), path: '/components/0/name' },
      { why: 'adopted is a string', value: withField(status, '/adopted', 'no'), path: '/adopted' },
    ],
  },
  'isolation-list-request': {
    good: {},
    bad: [
      { why: 'an unknown property', value: { guest: 'web-1' }, path: '/guest' },
      { why: 'an array', value: [], path: '' },
      { why: 'a string', value: 'all', path: '' },
    ],
  },
  'isolation-list-reply': {
    good: { kernel_vms: [status] },
    bad: [
      { why: 'kernel_vms is missing', value: {}, path: '/kernel_vms' },
      { why: 'a kernel VM is not an object', value: { kernel_vms: [1] }, path: '/kernel_vms/0' },
      { why: 'an unknown property', value: { kernel_vms: [], more: true }, path: '/more' },
    ],
  },
  'isolation-manifest-reply': {
    good: { sha256: 'd'.repeat(64), components: ['device-model'], loaded: '2026-01-01T00:00:00.000Z' },
    bad: [
      { why: 'sha256 is short', value: { sha256: 'd', components: [], loaded: '2026-01-01T00:00:00.000Z' }, path: '/sha256' },
      { why: 'loaded is missing', value: { sha256: 'd'.repeat(64), components: [] }, path: '/loaded' },
      {
        why: 'a component name is empty',
        value: { sha256: 'd'.repeat(64), components: [''], loaded: '2026-01-01T00:00:00.000Z' },
        path: '/components/0',
      },
    ],
  },
} satisfies {
  'isolation-event': SchemaExamples<'isolation-event'>;
  'isolation-console': SchemaExamples<'isolation-console'>;
  'isolation-manifest': SchemaExamples<'isolation-manifest'>;
  'isolation-ensure-request': SchemaExamples<'isolation-ensure-request'>;
  'isolation-guest-request': SchemaExamples<'isolation-guest-request'>;
  'isolation-restart-request': SchemaExamples<'isolation-restart-request'>;
  'isolation-kernel-vm-status': SchemaExamples<'isolation-kernel-vm-status'>;
  'isolation-list-request': SchemaExamples<'isolation-list-request'>;
  'isolation-list-reply': SchemaExamples<'isolation-list-reply'>;
  'isolation-manifest-reply': SchemaExamples<'isolation-manifest-reply'>;
};
