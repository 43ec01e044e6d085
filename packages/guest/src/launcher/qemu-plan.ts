import { join } from 'node:path';
import type { GuestImageFiles } from '../image/guest-image.js';
import { type QemuCommand, qemuCommand } from './qemu-command.js';

export interface GuestQemuPlanOptions {
  readonly image: GuestImageFiles;
  /** Directory for the sockets and the serial log; the RAM file goes here too unless `ramPath` is given. */
  readonly runDir: string;
  readonly ramPath?: string;
  readonly memoryMiB?: number;
  readonly qmpSockets?: number;
  readonly gdbPort?: number;
  readonly keyboard?: 'ps2' | 'virtio';
  readonly extraArgs?: readonly string[];
}

export interface GuestQemuPlan {
  readonly command: QemuCommand;
  readonly ramPath: string;
  readonly qmpPaths: readonly string[];
  /** Connect here (e.g. with `SerialConsole.connect`): QEMU holds the guest until someone does. */
  readonly serialSocketPath: string;
  readonly gdbAddress: string | undefined;
}

/**
 * The QEMU command line and file layout for running the guest somewhere other than `launchGuest`
 * (the isolation service starts the same QEMU inside a sandbox, with paths it grants).
 */
export function guestQemuPlan(options: GuestQemuPlanOptions): GuestQemuPlan {
  const ramPath = options.ramPath ?? join(options.runDir, 'guest.ram');
  const qmpPaths = Array.from({ length: options.qmpSockets ?? 1 }, (_, i) => join(options.runDir, `qmp${i}.sock`));
  const serialSocketPath = join(options.runDir, 'serial.sock');
  const gdbAddress = options.gdbPort === undefined ? undefined : `127.0.0.1:${options.gdbPort}`;
  const command = qemuCommand({
    kernelPath: options.image.kernelPath,
    initrdPath: options.image.initrdPath,
    memoryMiB: options.memoryMiB ?? 256,
    ramPath,
    serialSocketPath,
    qmpPaths,
    gdbAddress,
    keyboard: options.keyboard ?? 'ps2',
    extraArgs: options.extraArgs ?? [],
  });
  return { command, ramPath, qmpPaths, serialSocketPath, gdbAddress };
}
