import { GuestErrors, VmiError } from '@vmi/contracts';

/** Everything QEMU needs to boot the guest; all paths are chosen by the caller. */
export interface QemuCommandOptions {
  readonly kernelPath: string;
  readonly initrdPath: string;
  readonly memoryMiB: number;
  /** Guest RAM backing file, mapped shared so the host can read guest-physical memory. */
  readonly ramPath: string;
  /** UNIX socket of the serial control console (QEMU listens and holds the guest until it is connected). */
  readonly serialSocketPath: string;
  /** One QMP monitor per path; QEMU serves one client per monitor. */
  readonly qmpPaths: readonly string[];
  /** `host:port` for the gdbstub, or undefined for none. */
  readonly gdbAddress?: string | undefined;
  /** File that receives the guest's second serial port (ttyS1), a bulk data channel. */
  readonly dataSerialPath?: string | undefined;
  readonly keyboard?: 'ps2' | 'virtio';
  readonly accel?: 'tcg' | 'kvm';
  readonly kernelArgs?: readonly string[];
  readonly extraArgs?: readonly string[];
}

export interface QemuCommand {
  readonly file: string;
  readonly args: readonly string[];
}

export const QEMU_BINARY = 'qemu-system-x86_64';
/** nokaslr keeps every symbol where the profile recorded it; quiet keeps the console for the protocol. */
export const BASE_KERNEL_ARGS = ['console=ttyS0', 'nokaslr', 'quiet'] as const;

/** QEMU option values are comma-separated key=value lists: a comma in a path would split it. */
function optionPath(path: string, what: string): string {
  if (path.length === 0 || path.includes(',') || /[\0\n]/.test(path)) {
    throw new VmiError(GuestErrors.INVALID_ARGUMENT, `${what} must be a non-empty path without commas`, { path: `/${what}` });
  }
  return path;
}

/**
 * The QEMU command line for a guest. Pure: the launcher spawns it, and the isolation service runs
 * the very same argv inside its sandbox.
 */
export function qemuCommand(options: QemuCommandOptions): QemuCommand {
  const memory = options.memoryMiB;
  if (!Number.isInteger(memory) || memory < 64 || memory > 65536) {
    throw new VmiError(GuestErrors.INVALID_ARGUMENT, 'memoryMiB must be an integer from 64 to 65536', { path: '/memoryMiB' });
  }
  const kernelArgs = [...BASE_KERNEL_ARGS, ...(options.kernelArgs ?? [])];
  if (options.keyboard === 'virtio') kernelArgs.push('vmi.keyboard=virtio');
  for (const arg of kernelArgs) {
    if (!/^[\x21-\x7e]+$/.test(arg))
      throw new VmiError(GuestErrors.INVALID_ARGUMENT, 'kernel arguments must be printable words', { path: '/kernelArgs' });
  }
  const args = [
    ...['-accel', options.accel ?? 'tcg', '-smp', '1', '-m', `${memory}M`],
    ...['-object', `memory-backend-file,id=mem,size=${memory}M,mem-path=${optionPath(options.ramPath, 'ramPath')},share=on`],
    ...['-machine', 'q35,memory-backend=mem'],
    ...['-kernel', options.kernelPath, '-initrd', options.initrdPath, '-append', kernelArgs.join(' ')],
    ...['-display', 'none', '-monitor', 'none', '-no-reboot'],
    ...[
      '-chardev',
      `socket,id=ser0,path=${optionPath(options.serialSocketPath, 'serialSocketPath')},server=on,wait=on`,
      '-serial',
      'chardev:ser0',
    ],
  ];
  if (options.dataSerialPath !== undefined) {
    args.push('-chardev', `file,id=ser1,path=${optionPath(options.dataSerialPath, 'dataSerialPath')}`, '-serial', 'chardev:ser1');
  }
  for (const path of options.qmpPaths) args.push('-qmp', `unix:${optionPath(path, 'qmpPaths')},server=on,wait=off`);
  if (options.gdbAddress !== undefined) {
    if (!/^[0-9a-zA-Z.:-]+:[0-9]{1,5}$/.test(options.gdbAddress)) {
      throw new VmiError(GuestErrors.INVALID_ARGUMENT, 'gdbAddress must be host:port', { path: '/gdbAddress' });
    }
    args.push('-gdb', `tcp:${options.gdbAddress}`);
  }
  if (options.keyboard === 'virtio') args.push('-device', 'virtio-keyboard-pci');
  args.push(...(options.extraArgs ?? []));
  return { file: QEMU_BINARY, args };
}
