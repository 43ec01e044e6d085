import { readFile } from 'node:fs/promises';
import { GuestErrors, VmiError } from '@vmi/contracts';
import { READY } from './serial-console.js';

/**
 * Waits until the guest's /init says it reads commands, from the serial log QEMU keeps beside the
 * console socket (`logfile=`). A client that connects to the console later than the boot has missed
 * the ready line on the socket, and a command typed before it is lost to the boot: the tty still
 * echoes and /init has not started reading. Resolves with the kernel release the line names.
 */
export async function waitForConsoleReady(serialLog: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await readFile(serialLog, 'latin1').catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return '';
      throw err;
    });
    const ready = READY.exec(text);
    if (ready) return ready[1] ?? '';
    if (Date.now() > deadline) {
      throw new VmiError(GuestErrors.BOOT_TIMEOUT, `the guest's console was not ready within ${timeoutMs} ms`, { details: { timeoutMs } });
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
