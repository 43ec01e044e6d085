// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the shim library is named by its manifest placeholder
import type { ComponentSpec, GuestImageSpec, IsolationManifest } from '@vmi/contracts';
import { resolveSyscalls } from '../manifest/semantics.js';
import { expand, type TemplateValues } from '../manifest/templates.js';
import type { KernelVmIds } from '../sandbox/ids.js';
import type { SandboxPlan } from '../sandbox/plan.js';
import { deviceModelArgv } from './device-model.js';

export interface PlanInputs {
  readonly manifest: IsolationManifest;
  readonly spec: ComponentSpec;
  readonly ids: KernelVmIds;
  readonly values: TemplateValues;
  readonly image: GuestImageSpec | null;
  readonly cgroupProcs: readonly string[];
  readonly qemu: string;
  /** Runs this command instead of the component's program, in the same environment. */
  readonly argv?: readonly string[];
}

/** The component's command line inside the sandbox. */
export function componentArgv(inputs: PlanInputs): string[] {
  const { spec, values } = inputs;
  const program = spec.program;
  if (program.kind === 'exec') return [expand(program.path, values), ...program.args.map((a) => expand(a, values))];
  if (inputs.image === null) throw new Error('a device model needs a guest image');
  return deviceModelArgv(inputs.qemu, inputs.image, {
    ramFile: expand(program.ram_file, values),
    qmpSockets: program.qmp.map((q) => expand(q, values)),
    gdbSocket: expand(program.gdb, values),
    serialSocket: expand(program.serial_socket, values),
    serialLog: expand(program.serial_log, values),
  });
}

/**
 * The program's environment. A device model with `uffd_shim` preloads the shim, which serves the
 * userfaultfd of the RAM file's mapping (recognised by the file itself) on the manifest's socket.
 */
function componentEnv(inputs: PlanInputs): Record<string, string> {
  const program = inputs.spec.program;
  if (program.kind !== 'device-model' || program.uffd_shim === undefined) return {};
  return {
    LD_PRELOAD: expand('${uffd.shim}', inputs.values),
    VMI_UFFD_SOCKET: expand(program.uffd_shim.socket, inputs.values),
    VMI_UFFD_RAM_PATH: expand(program.ram_file, inputs.values),
  };
}

/** Resolves a component's profile into an execution environment for this kernel VM. */
export function componentPlan(inputs: PlanInputs): SandboxPlan {
  const { manifest, spec, ids, values } = inputs;
  const profile = spec.profile;
  const binds: { source: string; dest: string; access: 'ro' | 'rw' }[] = [];
  const groups = new Set<number>();
  for (const grant of profile.paths) {
    if (grant.kind === 'resource') {
      const path = values.resources[grant.resource] as string;
      binds.push({ source: path, dest: path, access: grant.access });
      if (manifest.resources[grant.resource]?.owner !== spec.name) groups.add(ids.resourceGroup(grant.resource));
    } else if (grant.kind === 'host') {
      const path = expand(grant.path, values);
      binds.push({ source: path, dest: path, access: 'ro' });
    } else if (inputs.image !== null) {
      // The image's files, not their directories: nothing else beside them becomes visible.
      for (const file of [inputs.image.kernel, inputs.image.initrd]) binds.push({ source: file, dest: file, access: 'ro' });
    }
  }
  const id = ids.componentId(spec.name);
  return {
    uid: id,
    gid: id,
    groups: [...groups].sort((a, b) => a - b),
    namespaces: profile.namespaces,
    capabilities: profile.capabilities,
    hostname: `${values.guest}-${spec.name}`.slice(0, 63),
    binds,
    links: profile.links.map((l) => ({ path: expand(l.path, values), target: expand(l.target, values) })),
    proc: profile.proc,
    dev: profile.dev,
    tmp: profile.tmp,
    syscalls: resolveSyscalls(manifest, profile.seccomp.allow),
    seccompDefault: profile.seccomp.default_action,
    socketFamilies: profile.socket_families,
    cgroupProcs: inputs.cgroupProcs,
    umask: profile.umask,
    env: componentEnv(inputs),
    argv: inputs.argv ?? componentArgv(inputs),
  };
}
