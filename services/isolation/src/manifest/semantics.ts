// biome-ignore-all lint/suspicious/noTemplateCurlyInString: manifests use ${...} placeholders, named here in checks and messages
import type { IsolationManifest, Namespace } from '@vmi/contracts';
import { placeholderProblem, placeholders } from './templates.js';

export interface ManifestProblem {
  readonly path: string;
  readonly reason: string;
}

const NAME = /^[a-z][a-z0-9-]{0,31}$/;
const ENDPOINT = /^[a-z][a-z0-9_]{0,63}$/;
/** An execution environment without these would share something with the host or another guest. */
export const REQUIRED_NAMESPACES: readonly Namespace[] = ['user', 'pid', 'mount', 'net', 'ipc', 'uts'];

function templateProblem(template: string, path: string, resources: ReadonlySet<string>): ManifestProblem | null {
  for (const name of placeholders(template)) {
    const problem = placeholderProblem(name, resources);
    if (problem !== null) return { path, reason: problem };
  }
  return null;
}

function absolutePathProblem(template: string, path: string): ManifestProblem | null {
  if (!template.startsWith('/') && !template.startsWith('${')) return { path, reason: 'must be an absolute path' };
  if (template.split('/').includes('..')) return { path, reason: 'must not contain ".."' };
  return null;
}

/**
 * What the schema cannot check: names, references between components and resources, acyclic start
 * order, mandatory namespaces, coherent grants and placeholders. Returns the first problem.
 */
export function checkManifestSemantics(m: IsolationManifest): ManifestProblem | null {
  const resources = new Set(Object.keys(m.resources));
  const components = new Map<string, number>();
  for (const name of Object.keys(m.syscall_sets)) {
    if (!NAME.test(name)) return { path: `/syscall_sets/${name}`, reason: 'is not a valid set name (a-z, 0-9, -)' };
    const entries = m.syscall_sets[name] ?? [];
    const nested = entries.findIndex((s) => s.startsWith('@'));
    if (nested >= 0) return { path: `/syscall_sets/${name}/${nested}`, reason: 'sets cannot include other sets' };
  }
  for (const name of resources) {
    if (!NAME.test(name)) return { path: `/resources/${name}`, reason: 'is not a valid resource name (a-z, 0-9, -)' };
  }
  for (const [i, c] of m.components.entries()) {
    if (components.has(c.name)) return { path: `/components/${i}/name`, reason: `duplicates component "${c.name}"` };
    components.set(c.name, i);
  }
  for (const [name, r] of Object.entries(m.resources)) {
    if (r.owner !== null && !components.has(r.owner)) {
      return { path: `/resources/${name}/owner`, reason: `names unknown component "${r.owner}"` };
    }
  }
  for (const [name, template] of Object.entries(m.endpoints)) {
    if (!ENDPOINT.test(name)) return { path: `/endpoints/${name}`, reason: 'is not a valid endpoint name (a-z, 0-9, _)' };
    const p = templateProblem(template, `/endpoints/${name}`, resources);
    if (p !== null) return p;
  }

  // Non-owner grants of one resource share its group, so they must agree on read-only or read-write.
  const groupAccess = new Map<string, { access: string; path: string }>();
  let deviceModels = 0;
  for (const [i, c] of m.components.entries()) {
    const at = `/components/${i}`;
    for (const [j, dep] of c.after.entries()) {
      const index = components.get(dep);
      if (index === undefined) return { path: `${at}/after/${j}`, reason: `names unknown component "${dep}"` };
      if (index >= i)
        return { path: `${at}/after/${j}`, reason: `"${dep}" must be listed before "${c.name}" (start order must be acyclic)` };
    }
    if (c.program.kind === 'device-model') {
      if (c.role !== 'device-model') return { path: `${at}/program/kind`, reason: 'a device-model program needs role "device-model"' };
      deviceModels++;
      if (deviceModels > 1) return { path: `${at}/program`, reason: 'a kernel VM has at most one device model' };
      const fields = {
        ram_file: c.program.ram_file,
        gdb: c.program.gdb,
        serial_socket: c.program.serial_socket,
        serial_log: c.program.serial_log,
      };
      for (const [field, template] of Object.entries(fields)) {
        const p = templateProblem(template, `${at}/program/${field}`, resources) ?? absolutePathProblem(template, `${at}/program/${field}`);
        if (p !== null) return p;
      }
      for (const [j, template] of c.program.qmp.entries()) {
        const p = templateProblem(template, `${at}/program/qmp/${j}`, resources);
        if (p !== null) return p;
      }
      if (c.program.uffd_shim !== undefined) {
        const p = uffdShimProblem(m, c, at);
        if (p !== null) return p;
      }
    } else {
      const p =
        templateProblem(c.program.path, `${at}/program/path`, resources) ?? absolutePathProblem(c.program.path, `${at}/program/path`);
      if (p !== null) return p;
      for (const [j, arg] of c.program.args.entries()) {
        const q = templateProblem(arg, `${at}/program/args/${j}`, resources);
        if (q !== null) return q;
      }
    }
    const hp = templateProblem(c.health.socket, `${at}/health/socket`, resources);
    if (hp !== null) return hp;
    if (c.restart.backoff_max_ms < c.restart.backoff_initial_ms) {
      return { path: `${at}/restart/backoff_max_ms`, reason: 'must not be smaller than backoff_initial_ms' };
    }

    const profile = c.profile;
    for (const ns of REQUIRED_NAMESPACES) {
      if (!profile.namespaces.includes(ns)) return { path: `${at}/profile/namespaces`, reason: `must include "${ns}"` };
    }
    let grantsImage = false;
    const granted = new Map<string, string>();
    for (const [j, grant] of profile.paths.entries()) {
      const gp = `${at}/profile/paths/${j}`;
      if (grant.kind === 'image') {
        grantsImage = true;
        continue;
      }
      if (grant.kind === 'host') {
        const p = templateProblem(grant.path, `${gp}/path`, resources) ?? absolutePathProblem(grant.path, `${gp}/path`);
        if (p !== null) return p;
        continue;
      }
      const resource = m.resources[grant.resource];
      if (resource === undefined) return { path: `${gp}/resource`, reason: `names unknown resource "${grant.resource}"` };
      if (granted.has(grant.resource)) return { path: `${gp}/resource`, reason: `grants "${grant.resource}" twice` };
      granted.set(grant.resource, grant.access);
      if (resource.owner === c.name) continue;
      const seen = groupAccess.get(grant.resource);
      if (seen !== undefined && seen.access !== grant.access) {
        return { path: `${gp}/access`, reason: `conflicts with ${seen.path} (non-owner grants of "${grant.resource}" must agree)` };
      }
      groupAccess.set(grant.resource, { access: grant.access, path: `${gp}/access` });
    }
    for (const [name, r] of Object.entries(m.resources)) {
      if (r.owner === c.name && !granted.has(name)) {
        return { path: `${at}/profile/paths`, reason: `must grant the resource "${name}" that this component owns` };
      }
    }
    const usesImage = JSON.stringify(c.program).includes('${image.') || c.program.kind === 'device-model';
    if (usesImage && !grantsImage) return { path: `${at}/profile/paths`, reason: 'uses the guest image but does not grant it' };
    for (const [j, link] of profile.links.entries()) {
      const p = absolutePathProblem(link.path, `${at}/profile/links/${j}/path`);
      if (p !== null) return p;
    }
    if (profile.network.mode === 'nats-relay') {
      const relay = m.resources[profile.network.resource];
      if (relay === undefined || relay.relay !== 'nats') {
        return { path: `${at}/profile/network/resource`, reason: `"${profile.network.resource}" is not a resource with relay "nats"` };
      }
      if (granted.get(profile.network.resource) !== 'rw') {
        return { path: `${at}/profile/network/resource`, reason: 'the relay resource must also be granted read-write in paths' };
      }
    }
    const inet = profile.socket_families.findIndex((f) => f === 'inet' || f === 'inet6');
    if (inet >= 0) {
      return {
        path: `${at}/profile/socket_families/${inet}`,
        reason: 'IP sockets need a network grant; components reach NATS only through the relay',
      };
    }
    for (const [j, entry] of profile.seccomp.allow.entries()) {
      if (entry.startsWith('@') && m.syscall_sets[entry.slice(1)] === undefined) {
        return { path: `${at}/profile/seccomp/allow/${j}`, reason: `names unknown syscall set "${entry}"` };
      }
    }
    // A userfaultfd can stall whoever touches the registered memory: only the shim's QEMU gets one.
    const shim = c.program.kind === 'device-model' && c.program.uffd_shim !== undefined;
    if (!shim && resolveSyscalls(m, profile.seccomp.allow).includes('userfaultfd')) {
      return { path: `${at}/profile/seccomp/allow`, reason: 'allows "userfaultfd", which only a device model with uffd_shim may' };
    }
  }
  return null;
}

/**
 * A device model's `uffd_shim`: the socket lies in a resource of its own that no other component is
 * granted (whoever connects receives a descriptor that can write-protect guest RAM), and the
 * profile grants the shim library read-only and allows `userfaultfd`.
 */
function uffdShimProblem(m: IsolationManifest, c: IsolationManifest['components'][number], at: string): ManifestProblem | null {
  if (c.program.kind !== 'device-model' || c.program.uffd_shim === undefined) return null;
  const path = `${at}/program/uffd_shim/socket`;
  const socket = c.program.uffd_shim.socket;
  const p = templateProblem(socket, path, new Set(Object.keys(m.resources))) ?? absolutePathProblem(socket, path);
  if (p !== null) return p;
  const resource = /^\$\{resource\.([^}]+)\}\/[^/]+$/.exec(socket)?.[1];
  if (resource === undefined) return { path, reason: 'must be a file directly in a resource, "${resource.NAME}/FILE"' };
  if (m.resources[resource]?.owner !== c.name) return { path, reason: `"${resource}" must be a resource this component owns` };
  const other = m.components.find(
    (o) => o.name !== c.name && o.profile.paths.some((g) => g.kind === 'resource' && g.resource === resource),
  );
  if (other !== undefined) return { path, reason: `"${resource}" must not be granted to another component ("${other.name}" has it)` };
  if (!c.profile.paths.some((g) => g.kind === 'host' && g.path === '${uffd.shim}')) {
    return { path: `${at}/profile/paths`, reason: 'must grant the shim library, {"kind": "host", "path": "${uffd.shim}"}' };
  }
  if (!resolveSyscalls(m, c.profile.seccomp.allow).includes('userfaultfd')) {
    return { path: `${at}/profile/seccomp/allow`, reason: 'must allow "userfaultfd" for the shim' };
  }
  return null;
}

/** Every plain syscall name in the manifest with where it first appears. */
export function syscallNames(m: IsolationManifest): Map<string, string> {
  const out = new Map<string, string>();
  for (const [set, names] of Object.entries(m.syscall_sets)) {
    names.forEach((n, i) => {
      if (!out.has(n)) out.set(n, `/syscall_sets/${set}/${i}`);
    });
  }
  m.components.forEach((c, i) => {
    c.profile.seccomp.allow.forEach((n, j) => {
      if (!n.startsWith('@') && !out.has(n)) out.set(n, `/components/${i}/profile/seccomp/allow/${j}`);
    });
  });
  return out;
}

/** A component's allow-list with its `@set` references expanded, deduplicated. */
export function resolveSyscalls(m: IsolationManifest, allow: readonly string[]): string[] {
  const out = new Set<string>();
  for (const entry of allow) {
    if (entry.startsWith('@')) for (const n of m.syscall_sets[entry.slice(1)] ?? []) out.add(n);
    else out.add(entry);
  }
  return [...out].sort();
}
