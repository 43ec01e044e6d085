import type { GuestProfile } from '../profile/guest-profile.js';

/** The two files QEMU boots. */
export interface GuestImageFiles {
  readonly kernelPath: string;
  readonly initrdPath: string;
}

/** A built, cached guest image. */
export interface GuestImage extends GuestImageFiles {
  /** Content hash of every build input; also the name of the cache directory. */
  readonly hash: string;
  /** `<cache root>/<hash>`: vmlinuz, initramfs.cpio.gz, profile.json, manifest.json, vmi_attack.ko, build.log. */
  readonly dir: string;
  /** `uname -r` of the guest kernel. */
  readonly kernelVersion: string;
  readonly profilePath: string;
  readonly profile: GuestProfile;
  /** The attack module as loaded by the guest's /init (also inside the initramfs). */
  readonly modulePath: string;
}
