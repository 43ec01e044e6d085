import { readFile } from 'node:fs/promises';
import { compileValidator, GuestErrors, VmiError } from '@vmi/contracts';
import Type, { type Static } from 'typebox';

const Hex = Type.String({ pattern: '^0x[0-9a-f]{1,16}$', description: 'lower-case hexadecimal address' });

/**
 * The symbol profile of a guest kernel, recorded from its own /proc/kallsyms while booted with
 * `nokaslr` (so the addresses hold on every later boot of the same image).
 */
export const GuestProfileSchema = Type.Object(
  {
    format: Type.Literal('vmi-guest-profile/1'),
    /** `uname -r` inside the guest. */
    kernelVersion: Type.String({ minLength: 1 }),
    /** `/proc/version` inside the guest, trailing newline included: the text of `linux_banner`. */
    banner: Type.String({ minLength: 1 }),
    /** Virtual base of the kernel image mapping (`__START_KERNEL_map`). */
    startKernelMap: Hex,
    /** Physical load offset of the kernel image: image va -> pa is `va - startKernelMap + physBase`. */
    physBase: Hex,
    /** Start of the direct map: pa -> direct-map va is `pageOffsetBase + pa`. */
    pageOffsetBase: Hex,
    sysCallTable: Hex,
    idtTable: Hex,
    stext: Hex,
    etext: Hex,
    modprobePath: Hex,
    corePattern: Hex,
    linuxBanner: Hex,
    /** Every core-kernel symbol, name -> address; the first of same-named static symbols wins. */
    symbols: Type.Record(Type.String(), Hex),
    /** Symbols of the modules the guest's /init loads, per module (stable with `nokaslr` and a fixed load order). */
    modules: Type.Record(Type.String(), Type.Record(Type.String(), Hex)),
    createdAt: Type.String(),
  },
  { additionalProperties: false, $id: 'GuestProfile' },
);

export type GuestProfile = Static<typeof GuestProfileSchema>;

export const guestProfileValidator = compileValidator(GuestProfileSchema, 'GuestProfile');

export async function loadGuestProfile(path: string): Promise<GuestProfile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new VmiError(GuestErrors.IMAGE_BUILD, `cannot read profile ${path}`, { cause: error });
  }
  return guestProfileValidator.decode(text);
}

/** A symbol's address as a bigint; throws when the profile lacks it. */
export function symbolAddress(profile: GuestProfile, name: string): bigint {
  const hex = profile.symbols[name];
  if (hex === undefined) throw new VmiError(GuestErrors.INVALID_ARGUMENT, `symbol ${name} is not in the profile`, { path: '/symbols' });
  return BigInt(hex);
}

/** Guest-physical address of a kernel-image virtual address (as the RAM file offset for a small q35 guest). */
export function imageVirtToPhys(profile: GuestProfile, va: bigint): bigint {
  return va - BigInt(profile.startKernelMap) + BigInt(profile.physBase);
}

/** The direct-map alias of a guest-physical address. */
export function directMapAddress(profile: GuestProfile, pa: bigint): bigint {
  return BigInt(profile.pageOffsetBase) + pa;
}
