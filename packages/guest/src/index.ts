/** @vmi/guest: the test and demo guest: image builder (kernel, initramfs, attack module, symbol profile) and QEMU launcher. */
export { type AttackStatus, attackCommands, readAttackStatus, readStoreTimes, type WriteAlias } from './attack/attack-commands.js';
export { type EnsureGuestImageOptions, ensureGuestImage } from './image/ensure-guest-image.js';
export type { GuestImage, GuestImageFiles } from './image/guest-image.js';
export { parseKallsyms } from './image/record-profile.js';
export { waitForConsoleReady } from './launcher/console-ready.js';
export { killAllGuests, liveGuestCount } from './launcher/guest-registry.js';
export { type ExecResult, Guest, type LaunchGuestOptions, launchGuest } from './launcher/launch-guest.js';
export { BASE_KERNEL_ARGS, QEMU_BINARY, type QemuCommand, type QemuCommandOptions, qemuCommand } from './launcher/qemu-command.js';
export { type GuestQemuPlan, type GuestQemuPlanOptions, guestQemuPlan } from './launcher/qemu-plan.js';
export { GuestJob, MAX_COMMAND_LENGTH, SerialConsole } from './launcher/serial-console.js';
export {
  directMapAddress,
  type GuestProfile,
  GuestProfileSchema,
  guestProfileValidator,
  imageVirtToPhys,
  loadGuestProfile,
  symbolAddress,
} from './profile/guest-profile.js';
