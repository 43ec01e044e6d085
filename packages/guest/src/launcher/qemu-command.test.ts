import { GuestErrors } from '@vmi/contracts';
import { describe, expect, it } from 'vitest';
import { qemuCommand } from './qemu-command.js';
import { guestQemuPlan } from './qemu-plan.js';

const image = { kernelPath: '/k/vmlinuz', initrdPath: '/k/initramfs.cpio.gz' };

describe('the QEMU command line', () => {
  it('shares guest RAM, boots with nokaslr, and offers every monitor, the gdbstub and the serial socket', () => {
    const plan = guestQemuPlan({ image, runDir: '/run/g1', qmpSockets: 2, gdbPort: 1234, memoryMiB: 128 });
    const argv = plan.command.args.join(' ');
    expect(plan.command.file).toBe('qemu-system-x86_64');
    expect(argv).toContain('memory-backend-file,id=mem,size=128M,mem-path=/run/g1/guest.ram,share=on');
    expect(argv).toContain('-append console=ttyS0 nokaslr quiet');
    expect(argv).toContain('-qmp unix:/run/g1/qmp0.sock,server=on,wait=off -qmp unix:/run/g1/qmp1.sock,server=on,wait=off');
    expect(argv).toContain('-gdb tcp:127.0.0.1:1234');
    expect(argv).toContain('socket,id=ser0,path=/run/g1/serial.sock,server=on,wait=on');
    expect(plan.qmpPaths).toEqual(['/run/g1/qmp0.sock', '/run/g1/qmp1.sock']);
  });

  it('refuses values that would break QEMU option parsing', () => {
    const base = { ...image, memoryMiB: 256, ramPath: '/r', serialSocketPath: '/s', qmpPaths: [] };
    expect(() => qemuCommand({ ...base, ramPath: '/a,share=off' })).toThrow(
      expect.objectContaining({ code: GuestErrors.INVALID_ARGUMENT.code }),
    );
    expect(() => qemuCommand({ ...base, memoryMiB: 3.5 })).toThrow(expect.objectContaining({ path: '/memoryMiB' }));
    expect(() => qemuCommand({ ...base, kernelArgs: ['init=/bin/sh x'] })).toThrow(expect.objectContaining({ path: '/kernelArgs' }));
    expect(() => qemuCommand({ ...base, gdbAddress: 'tcp:1;x' })).toThrow(expect.objectContaining({ path: '/gdbAddress' }));
  });
});
