import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...filesUnder(path));
    else if (entry.isFile()) out.push(path);
  }
  return out.sort();
}

/**
 * A hash of everything that shapes the image: the guest sources, the builder itself, the kernel
 * version and the bytes of the kernel and busybox the image copies. Tests of the builder are not
 * inputs.
 */
export function hashBuildInputs(inputs: {
  readonly sourceDirs: readonly string[];
  readonly files: readonly string[];
  readonly values: Readonly<Record<string, string>>;
}): string {
  const hash = createHash('sha256');
  for (const [key, value] of Object.entries(inputs.values).sort(([a], [b]) => a.localeCompare(b))) hash.update(`value ${key}=${value}\n`);
  for (const dir of inputs.sourceDirs) {
    for (const file of filesUnder(dir)) {
      if (file.endsWith('.test.ts')) continue;
      const body = readFileSync(file);
      hash.update(`file ${relative(dir, file)} ${body.length} ${statSync(file).mode & 0o111 ? 'x' : '-'}\n`);
      hash.update(body);
    }
  }
  for (const file of inputs.files) {
    const body = readFileSync(file);
    hash.update(`blob ${file} ${body.length}\n`);
    hash.update(body);
  }
  return hash.digest('hex').slice(0, 20);
}
