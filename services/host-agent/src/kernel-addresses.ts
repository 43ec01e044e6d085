/**
 * x86-64 Linux kernel address arithmetic for a guest booted with `nokaslr`: the kernel image is
 * mapped at `__START_KERNEL_map` over `phys_base`, every physical page also appears in the direct map
 * at `page_offset_base`, and the IDT is read by the CPU through its read-only CPU-entry-area alias.
 */
export const START_KERNEL_MAP = 0xffff_ffff_8000_0000n;
export const DEFAULT_PAGE_OFFSET_BASE = 0xffff_8880_0000_0000n;
export const CPU_ENTRY_AREA_RO_IDT = 0xffff_fe00_0000_0000n;
/** Module space on x86-64 (MODULES_VADDR .. MODULES_END). */
export const MODULES_START = 0xffff_ffff_a000_0000n;
export const MODULES_END = 0xffff_ffff_ff00_0000n;
/** The top of the user half of the canonical address space. */
export const USER_END = 0x0000_8000_0000_0000n;

export interface KernelLayout {
  readonly physBase: bigint;
  readonly pageOffsetBase: bigint;
}

/** Guest-physical address of a kernel-image virtual address. */
export function imageToPhys(layout: KernelLayout, va: bigint): bigint {
  return va - START_KERNEL_MAP + layout.physBase;
}

/** True for a virtual address inside the kernel image mapping (not modules, not the direct map). */
export function isImageAddress(va: bigint): boolean {
  return va >= START_KERNEL_MAP && va < MODULES_START;
}

/** The direct-map alias of a guest-physical address. */
export function directMapAlias(layout: KernelLayout, phys: bigint): bigint {
  return layout.pageOffsetBase + phys;
}

export function hex(value: bigint): string {
  return `0x${value.toString(16)}`;
}

export function parseHex(text: string): bigint {
  return BigInt(text.startsWith('0x') ? text : `0x${text}`);
}
