import { join } from 'node:path';
import { attackCommands, type GuestProfile, SerialConsole } from '@vmi/guest';

export interface DemoAttack {
  readonly name: string;
  readonly command: string;
}

/** The attacks the demo runs in its guest, each a real write to protected kernel data. */
export function demoAttacks(profile: GuestProfile): DemoAttack[] {
  return [
    {
      name: 'modprobe_path overwrite through /proc/sys',
      command: attackCommands.sysctlAttack({ name: 'modprobe_path', value: '/tmp/pwn' }),
    },
    { name: 'sys_call_table hook (kernel-image alias)', command: attackCommands.hookSyscall(profile, 39, 'image') },
    { name: 'IDT hook (direct-map alias)', command: attackCommands.hookIdt(profile, 0x80, 'direct') },
  ];
}

/**
 * Runs the demo attacks through the guest's serial console (the guest's /init command loop) and
 * reports each command's exit code.
 */
export async function runDemoAttacks(
  consoleSocket: string,
  profile: GuestProfile,
  logDir: string,
  report: (line: string) => void,
): Promise<void> {
  const console = await SerialConsole.connect(consoleSocket, join(logDir, 'attack-console.log'), Date.now() + 10_000, () => true);
  try {
    for (const attack of demoAttacks(profile)) {
      const job = console.run(attack.command);
      const code = await Promise.race([
        job.exited,
        new Promise<number>((_, reject) => setTimeout(() => reject(new Error(`${attack.name}: no answer from the guest`)), 60_000)),
      ]);
      report(`attack: ${attack.name} -> exit ${code}`);
    }
  } finally {
    await console.close();
  }
}
