import { type GuestImageSpec, IsolationErrors, VmiError } from '@vmi/contracts';
import { qemuCommand } from '@vmi/guest';

export interface DeviceModelPaths {
  readonly ramFile: string;
  readonly qmpSockets: readonly string[];
  readonly gdbSocket: string;
  readonly serialSocket: string;
  readonly serialLog: string;
}

export const DEFAULT_MEMORY_MIB = 256;

/**
 * The guest's QEMU command line in a sandboxed device model: the guest's own command line
 * (@vmi/guest: RAM in a shared file, one QMP socket per client, serial console on a socket), with
 * what a device model without network needs on top: the gdbstub on a UNIX socket instead of TCP,
 * no network card, and a console that does not hold the guest until a client connects but copies
 * everything to a log file for the log shipper.
 */
export function deviceModelArgv(qemu: string, image: GuestImageSpec, paths: DeviceModelPaths): string[] {
  const command = qemuCommand({
    kernelPath: image.kernel,
    initrdPath: image.initrd,
    memoryMiB: image.memory_mib ?? DEFAULT_MEMORY_MIB,
    ramPath: paths.ramFile,
    serialSocketPath: paths.serialSocket,
    qmpPaths: paths.qmpSockets,
    ...(image.append === undefined ? {} : { kernelArgs: image.append.split(/\s+/).filter((a) => a.length > 0) }),
    extraArgs: ['-gdb', `unix:${paths.gdbSocket},server=on,wait=off`, '-nic', 'none', '-no-user-config'],
  });
  const console = `socket,id=ser0,path=${paths.serialSocket},server=on,wait=on`;
  const index = command.args.indexOf(console);
  if (index < 0) throw new VmiError(IsolationErrors.LAUNCH, 'the guest command line has no serial console socket to adapt');
  const args = [...command.args];
  args[index] = `socket,id=ser0,path=${paths.serialSocket},server=on,wait=off,logfile=${paths.serialLog},logappend=on`;
  return [qemu, ...args];
}
