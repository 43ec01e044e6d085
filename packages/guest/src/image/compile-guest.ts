import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { runCommand } from './run-command.js';

/** Compiles every guest program (`programs/*.c`) statically, so the initramfs needs no libc. */
export async function compilePrograms(sourceDir: string, outDir: string, log: (text: string) => void): Promise<string[]> {
  mkdirSync(outDir, { recursive: true });
  const sources = readdirSync(sourceDir).filter((f) => f.endsWith('.c'));
  const built: string[] = [];
  for (const source of sources.sort()) {
    const name = basename(source, '.c');
    const out = join(outDir, name);
    await runCommand('gcc', ['-static', '-O2', '-s', '-Wall', '-Wextra', '-o', out, join(sourceDir, source)], { onOutput: log });
    built.push(out);
  }
  return built;
}

/** Builds the attack module against Debian's headers for exactly the guest kernel, without debug info. */
export async function compileModule(
  sourceDir: string,
  buildDir: string,
  kernelVersion: string,
  log: (text: string) => void,
): Promise<string> {
  mkdirSync(buildDir, { recursive: true });
  for (const file of readdirSync(sourceDir)) copyFileSync(join(sourceDir, file), join(buildDir, file));
  await runCommand('make', ['-C', `/lib/modules/${kernelVersion}/build`, `M=${buildDir}`, 'modules'], { onOutput: log });
  const stripped = join(buildDir, 'vmi_attack.stripped.ko');
  await runCommand('strip', ['--strip-debug', '-o', stripped, join(buildDir, 'vmi_attack.ko')], { onOutput: log });
  return stripped;
}
