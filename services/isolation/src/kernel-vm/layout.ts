import { chmod, chown, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { IsolationManifest } from '@vmi/contracts';
import type { KernelVmIds } from '../sandbox/ids.js';

/** Where one kernel VM's resources live on the host. */
export interface KernelVmLayout {
  readonly dir: string;
  readonly resources: Readonly<Record<string, string>>;
}

export function layoutFor(runDir: string, slug: string, manifest: IsolationManifest): KernelVmLayout {
  const dir = join(runDir, slug);
  const resources: Record<string, string> = {};
  for (const name of Object.keys(manifest.resources)) resources[name] = join(dir, name);
  return { dir, resources };
}

/**
 * The access a resource's group gets: what the components granted it (not its owner) asked for.
 * The manifest check guarantees they agree.
 */
function groupAccess(manifest: IsolationManifest, resource: string): 'ro' | 'rw' | null {
  const owner = manifest.resources[resource]?.owner ?? null;
  for (const c of manifest.components) {
    if (c.name === owner) continue;
    for (const grant of c.profile.paths) if (grant.kind === 'resource' && grant.resource === resource) return grant.access;
  }
  return null;
}

/**
 * Creates the kernel VM's directories. The guest directory is traversable only; each resource is
 * owned by its owner component, group-owned by its own group (setgid, so files and sockets created
 * inside keep that group) and group-readable or -writable as its grants ask; sticky when
 * group-writable, so a member cannot remove the owner's sockets.
 */
export async function createLayout(layout: KernelVmLayout, manifest: IsolationManifest, ids: KernelVmIds): Promise<void> {
  await mkdir(layout.dir, { recursive: true, mode: 0o711 });
  await chmod(layout.dir, 0o711);
  await Promise.all(
    Object.entries(manifest.resources).map(async ([name, spec]) => {
      const dir = layout.resources[name] as string;
      await mkdir(dir, { recursive: true });
      const access = groupAccess(manifest, name);
      const mode = access === 'rw' ? 0o3770 : access === 'ro' ? 0o2750 : 0o2700;
      await chown(dir, spec.owner === null ? 0 : ids.componentId(spec.owner), ids.resourceGroup(name));
      await chmod(dir, mode);
    }),
  );
}

export async function removeLayout(layout: KernelVmLayout): Promise<void> {
  await rm(layout.dir, { recursive: true, force: true });
}
