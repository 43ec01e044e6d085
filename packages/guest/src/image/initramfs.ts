import { chmodSync, copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { GuestErrors, VmiError } from '@vmi/contracts';
import { runCommand } from './run-command.js';

export interface InitramfsInputs {
  readonly busyboxPath: string;
  readonly initPath: string;
  readonly programs: readonly string[];
  /** Kernel modules /init loads at every boot, in this order (dependencies first). */
  readonly modules: readonly string[];
  /** Modules /init loads only when the kernel command line says `vmi.keyboard=virtio`. */
  readonly virtioKeyboardModules: readonly string[];
}

/**
 * Resolves a module and its dependencies from the kernel's modules.dep, dependencies first, as
 * paths relative to the modules directory.
 */
export function moduleLoadOrder(modulesDir: string, names: readonly string[]): string[] {
  const deps = new Map<string, string[]>();
  for (const line of readFileSync(join(modulesDir, 'modules.dep'), 'utf8').split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const module = line.slice(0, colon);
    deps.set(
      module,
      line
        .slice(colon + 1)
        .trim()
        .split(/\s+/)
        .filter(Boolean),
    );
  }
  const byName = new Map([...deps.keys()].map((m) => [basename(m).replace(/\.ko(\.[a-z]+)?$/, ''), m]));
  const order: string[] = [];
  const visit = (module: string): void => {
    if (order.includes(module)) return;
    // modules.dep lists every transitive dependency, deepest last: load them in reverse.
    for (const dep of [...(deps.get(module) ?? [])].reverse()) visit(dep);
    order.push(module);
  };
  for (const name of names) {
    const module = byName.get(name);
    if (!module) throw new VmiError(GuestErrors.IMAGE_BUILD, `kernel module ${name} not found in ${modulesDir}`);
    if (/\.ko\.[a-z]+$/.test(module))
      throw new VmiError(GuestErrors.IMAGE_BUILD, `kernel module ${module} is compressed; busybox insmod needs plain .ko`);
    visit(module);
  }
  return order;
}

/** Lays out the root file system and packs it as a gzip'd newc cpio archive. */
export async function buildInitramfs(
  rootDir: string,
  outPath: string,
  inputs: InitramfsInputs,
  log: (text: string) => void,
): Promise<void> {
  for (const dir of ['bin', 'lib/modules', 'proc', 'sys', 'dev', 'tmp', 'run']) mkdirSync(join(rootDir, dir), { recursive: true });
  copyFileSync(inputs.busyboxPath, join(rootDir, 'bin', 'busybox'));
  chmodSync(join(rootDir, 'bin', 'busybox'), 0o755);
  copyFileSync(inputs.initPath, join(rootDir, 'init'));
  chmodSync(join(rootDir, 'init'), 0o755);
  for (const program of inputs.programs) {
    copyFileSync(program, join(rootDir, 'bin', basename(program)));
    chmodSync(join(rootDir, 'bin', basename(program)), 0o755);
  }
  const place = (modules: readonly string[], listName: string): void => {
    const names = modules.map((m) => basename(m));
    for (const [i, module] of modules.entries()) copyFileSync(module, join(rootDir, 'lib/modules', names[i] ?? ''));
    writeFileSync(join(rootDir, 'lib/modules', listName), names.map((n) => `${n}\n`).join(''));
  };
  place(inputs.modules, 'load-order');
  place(inputs.virtioKeyboardModules, 'load-order-virtio-keyboard');
  await runCommand(
    'sh',
    ['-c', `find . | LC_ALL=C sort | cpio -o -H newc --quiet --reproducible | gzip -n -6 > '${outPath.replace(/'/g, "'\\''")}'`],
    {
      cwd: rootDir,
      onOutput: log,
    },
  );
}
