import type { IsolationManifest } from '@vmi/contracts';

/** Ids per kernel VM: 32 for components (uid = gid), 32 for resource groups. */
export const IDS_PER_SLOT = 64;
const COMPONENT_IDS = 32;

/**
 * Host user and group ids of one kernel VM. Each kernel VM owns a block of ids that no other guest
 * and no host account uses (the base is configurable), so file permissions separate guests and
 * components even without the mount namespaces.
 */
export class KernelVmIds {
  constructor(
    readonly base: number,
    readonly slot: number,
    private readonly manifest: IsolationManifest,
  ) {}

  private get start(): number {
    return this.base + this.slot * IDS_PER_SLOT;
  }

  componentId(name: string): number {
    const index = this.manifest.components.findIndex((c) => c.name === name);
    if (index < 0 || index >= COMPONENT_IDS) throw new Error(`no id for component ${name}`);
    return this.start + index;
  }

  resourceGroup(name: string): number {
    const index = Object.keys(this.manifest.resources).sort().indexOf(name);
    if (index < 0 || index >= IDS_PER_SLOT - COMPONENT_IDS) throw new Error(`no group for resource ${name}`);
    return this.start + COMPONENT_IDS + index;
  }
}

/** The lowest slot not in use. */
export function freeSlot(used: ReadonlySet<number>, maxSlots: number): number | null {
  for (let slot = 0; slot < maxSlots; slot++) if (!used.has(slot)) return slot;
  return null;
}
