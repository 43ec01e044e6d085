#!/usr/bin/env node
// Builds the native addon with node-gyp against the headers of the Node that runs this script.
// Distribution packages of Node install them under <prefix>/include/node; pointing node-gyp there
// avoids a header download. With --sanitize the addon is built with AddressSanitizer and
// UndefinedBehaviorSanitizer into build-asan/ so the normal build stays untouched.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const sanitize = process.argv.includes('--sanitize');
// Incremental by default (configure re-reads the source lists, make rebuilds what changed).
const clean = process.argv.includes('--clean');
// As the package's install script: `pnpm install` would otherwise run a bare `node-gyp rebuild`
// that deletes a build someone is using. Build only if there is none, and never fail the install
// (`pnpm build` reports build errors).
const installing = process.argv.includes('--install');
if (installing && existsSync(join(packageDir, 'build', 'Release', 'vmi_native.node'))) process.exit(0);
const require = createRequire(import.meta.url);
const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');

const env = { ...process.env };
const nodePrefix = resolve(dirname(process.execPath), '..');
if (!env.npm_config_nodedir && existsSync(join(nodePrefix, 'include', 'node', 'node.h'))) {
  env.npm_config_nodedir = nodePrefix;
}

let workDir = packageDir;
if (sanitize) {
  // node-gyp always builds into <dir>/build, so the instrumented build gets a directory of its own
  // whose sources are links back to the package.
  workDir = join(packageDir, 'build-asan');
  mkdirSync(workDir, { recursive: true });
  for (const entry of ['binding.gyp', 'native', 'shim', 'node_modules']) {
    rmSync(join(workDir, entry), { recursive: true, force: true });
    symlinkSync(join(packageDir, entry), join(workDir, entry));
  }
  const flags = '-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g';
  env.CFLAGS = `${env.CFLAGS ?? ''} ${flags}`;
  env.CXXFLAGS = `${env.CXXFLAGS ?? ''} ${flags}`;
  env.LDFLAGS = `${env.LDFLAGS ?? ''} -fsanitize=address,undefined`;
}

const jobs = String(Math.max(1, Math.min(4, Number(env.VMI_BUILD_JOBS ?? 2))));
const gypArgs = [nodeGyp, ...(clean ? ['rebuild'] : ['configure', 'build']), '--jobs', jobs];
// Builds of the same directory must not overlap (one would delete the other's objects): serialise
// them with flock(1) on a lock named after the directory.
const lockName = `vmi-native-build-${Buffer.from(workDir).toString('base64url').slice(-40)}.lock`;
const hasFlock = spawnSync('flock', ['--version'], { stdio: 'ignore' }).status === 0;
const [command, commandArgs] = hasFlock ? ['flock', [join(tmpdir(), lockName), process.execPath, ...gypArgs]] : [process.execPath, gypArgs];
const result = spawnSync(command, commandArgs, { cwd: workDir, env, stdio: 'inherit' });
if (installing && result.status !== 0) {
  console.warn('@vmi/native-core: native build failed during install; `pnpm build` will retry and report');
  process.exit(0);
}
process.exit(result.status ?? 1);
