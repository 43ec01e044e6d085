#!/usr/bin/env node
// Builds the native addon with node-gyp against the headers of the Node that runs this script.
// Distribution packages of Node install them under <prefix>/include/node; pointing node-gyp there
// avoids a header download. With --sanitize the addon is built with AddressSanitizer and
// UndefinedBehaviorSanitizer into build-asan/ so the normal build stays untouched.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const sanitize = process.argv.includes('--sanitize');
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
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });
  for (const entry of ['binding.gyp', 'native', 'shim', 'node_modules']) {
    symlinkSync(join(packageDir, entry), join(workDir, entry));
  }
  const flags = '-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -g';
  env.CFLAGS = `${env.CFLAGS ?? ''} ${flags}`;
  env.CXXFLAGS = `${env.CXXFLAGS ?? ''} ${flags}`;
  env.LDFLAGS = `${env.LDFLAGS ?? ''} -fsanitize=address,undefined`;
}

const jobs = String(Math.max(1, Math.min(4, Number(env.VMI_BUILD_JOBS ?? 2))));
const result = spawnSync(process.execPath, [nodeGyp, 'rebuild', '--jobs', jobs], { cwd: workDir, env, stdio: 'inherit' });
process.exit(result.status ?? 1);
