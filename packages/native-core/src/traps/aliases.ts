/**
 * The virtual aliases of a kernel object. A watchpoint only sees writes through the exact virtual
 * address it is set on, so an object is watched at every address the kernel itself could use:
 * its kernel-image address, the direct map (page_offset_base + phys), and for the IDT the read-only
 * CPU-entry-area copy that `sidt` points at (the same physical page mapped at
 * CPU_ENTRY_AREA_RO_IDT; an attacker who flips that PTE writable writes through it).
 */
import type { ResolvedKernel, ResolvedTarget } from './options.js';
import type { TrapAlias } from './types.js';

export interface AliasRange {
  readonly alias: TrapAlias;
  readonly virt: bigint;
}

/** The IDT is one page: 256 gates of 16 bytes. */
const IDT_BYTES = 4096n;

export function aliasesFor(target: ResolvedTarget, kernel: ResolvedKernel): AliasRange[] {
  if (target.virt === null) return [];
  const out: AliasRange[] = [{ alias: 'image', virt: target.virt }];
  const add = (alias: TrapAlias, virt: bigint): void => {
    if (!out.some((r) => r.virt === virt)) out.push({ alias, virt });
  };
  if (Array.isArray(target.aliases)) {
    for (const virt of target.aliases) add('virtual', virt);
    return out;
  }
  if (target.aliases === 'none') return out;
  add('direct-map', kernel.pageOffsetBase + target.phys);
  const idt = kernel.idtTable;
  const end = target.virt + BigInt(target.length);
  if (idt !== null && target.virt >= idt && end <= idt + IDT_BYTES) {
    add('cpu-entry-area', kernel.cpuEntryAreaIdt + (target.virt - idt));
  }
  return out;
}
