#!/usr/bin/env node
// Runs the native core's self-contained tests (no guest needed) against the AddressSanitizer /
// UndefinedBehaviorSanitizer build in build-asan/ (made by `build-native.mjs --sanitize`). Node itself
// is not instrumented, so the ASan runtime is preloaded; leak checking is off because V8 keeps
// allocations alive until exit by design.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const repoRoot = resolve(packageDir, '..', '..');
const addon = join(packageDir, 'build-asan', 'build', 'Release', 'vmi_native.node');
if (!existsSync(addon)) {
  console.error(`no sanitizer build at ${addon}; run: node scripts/build-native.mjs --sanitize`);
  process.exit(1);
}

function runtimeLibrary(name) {
  const found = spawnSync(process.env.CXX ?? 'g++', [`-print-file-name=${name}`], { encoding: 'utf8' }).stdout.trim();
  return found.startsWith('/') && existsSync(found) ? found : undefined;
}
const preload = ['libasan.so', 'libubsan.so'].map(runtimeLibrary).filter((p) => p !== undefined);
if (preload.length === 0) {
  console.error('cannot find libasan.so (is the compiler runtime installed?)');
  process.exit(1);
}

const defaultTests = [
  'src/page-walk.test.ts',
  'src/guest-memory.test.ts',
  'src/hash.test.ts',
  'src/diff-phys.test.ts',
  'src/generation-table.test.ts',
  'src/guarded-copy.test.ts',
  'src/probe.test.ts',
  // The trap engine's protocol parsers, when present: they need no guest either.
  'src/traps/rsp-codec.test.ts',
];
const tests = (process.env.VMI_ASAN_TESTS?.split(',') ?? defaultTests)
  .map((t) => join('packages', 'native-core', t))
  .filter((t) => existsSync(join(repoRoot, t)));

const env = {
  ...process.env,
  VMI_NATIVE_ADDON: addon,
  LD_PRELOAD: [...preload, process.env.LD_PRELOAD].filter(Boolean).join(':'),
  // Node installs its own SIGSEGV handler; the addon relies on its SIGBUS handler being reachable.
  ASAN_OPTIONS: 'detect_leaks=0:abort_on_error=1:handle_segv=0:handle_sigbus=0:allow_user_segv_handler=1:detect_odr_violation=0',
  UBSAN_OPTIONS: 'halt_on_error=1:print_stacktrace=1',
};
const vitest = join(repoRoot, 'node_modules', 'vitest', 'vitest.mjs');
const result = spawnSync(process.execPath, [vitest, 'run', '--root', repoRoot, ...tests], { cwd: repoRoot, env, stdio: 'inherit' });
process.exit(result.status ?? 1);
