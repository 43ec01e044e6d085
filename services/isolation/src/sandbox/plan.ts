import type { Namespace, SocketFamily } from '@vmi/contracts';

/** A fully resolved execution environment: every path expanded, every id allocated. */
export interface SandboxPlan {
  /** Host user and group the component runs as (also its id inside the user namespace). */
  readonly uid: number;
  readonly gid: number;
  /** Resource groups the component joins (its read-only or read-write grants). */
  readonly groups: readonly number[];
  readonly namespaces: readonly Namespace[];
  readonly capabilities: readonly string[];
  readonly hostname: string;
  readonly binds: readonly { readonly source: string; readonly dest: string; readonly access: 'ro' | 'rw' }[];
  readonly links: readonly { readonly path: string; readonly target: string }[];
  readonly proc: boolean;
  readonly dev: boolean;
  readonly tmp: boolean;
  readonly syscalls: readonly string[];
  readonly seccompDefault: 'errno' | 'kill' | 'log';
  readonly socketFamilies: readonly SocketFamily[];
  readonly cgroupProcs: readonly string[];
  /** Octal text, e.g. `0007`. */
  readonly umask: string;
  /** Environment of the program (on top of PATH); everything else is cleared. */
  readonly env: Readonly<Record<string, string>>;
  readonly argv: readonly string[];
}

const FAMILY_NUMBER: Record<SocketFamily, number> = { unix: 1, inet: 2, inet6: 10, netlink: 16 };
const UNSHARE: Record<Namespace, string> = {
  user: '--unshare-user',
  pid: '--unshare-pid',
  mount: '',
  net: '--unshare-net',
  ipc: '--unshare-ipc',
  uts: '--unshare-uts',
  cgroup: '--unshare-cgroup',
};
const TMP_BYTES = 16 * 1024 * 1024;

/**
 * The command line that starts a component: `sandbox-exec` (cgroups, seccomp export, privilege
 * drop, no_new_privs) then bubblewrap (namespaces, mounts, capabilities). bubblewrap always makes a
 * mount namespace; `/` ends read-only so nothing outside the granted read-write paths is writable.
 */
export function sandboxCommand(launcher: string, bwrap: string, plan: SandboxPlan): string[] {
  const out = [launcher, '--uid', String(plan.uid), '--gid', String(plan.gid)];
  if (plan.groups.length > 0) out.push('--groups', plan.groups.join(','));
  for (const file of plan.cgroupProcs) out.push('--cgroup-procs', file);
  out.push('--umask', plan.umask);
  out.push('--seccomp-default', plan.seccompDefault, '--seccomp-allow', plan.syscalls.join(','));
  if (plan.syscalls.includes('socket') || plan.syscalls.includes('socketpair')) {
    out.push('--socket-families', plan.socketFamilies.map((f) => FAMILY_NUMBER[f]).join(',') || '0');
  }
  out.push('--', bwrap);

  for (const ns of plan.namespaces) {
    const flag = UNSHARE[ns];
    if (flag !== '') out.push(flag);
  }
  // A nested user namespace would hand the component a full capability set inside it.
  if (plan.namespaces.includes('user')) out.push('--disable-userns');
  out.push('--new-session');
  if (plan.namespaces.includes('uts')) out.push('--hostname', plan.hostname);
  out.push('--uid', String(plan.uid), '--gid', String(plan.gid));
  out.push('--cap-drop', 'ALL');
  for (const cap of plan.capabilities) out.push('--cap-add', cap);
  out.push('--clearenv', '--setenv', 'PATH', '/usr/bin:/bin');
  for (const [name, value] of Object.entries(plan.env)) out.push('--setenv', name, value);

  if (plan.proc) out.push('--proc', '/proc');
  if (plan.dev) out.push('--dev', '/dev');
  if (plan.tmp) out.push('--size', String(TMP_BYTES), '--tmpfs', '/tmp');
  // Parents before children, so a bind inside another bind lands on top of it.
  const binds = [...plan.binds].sort((a, b) => a.dest.length - b.dest.length);
  for (const b of binds) out.push(b.access === 'rw' ? '--bind' : '--ro-bind', b.source, b.dest);
  for (const l of plan.links) out.push('--symlink', l.target, l.path);
  out.push('--remount-ro', '/', '--chdir', '/', '--', ...plan.argv);
  return out;
}
