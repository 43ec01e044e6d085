import { defineConfig } from 'vitest/config';

// Tests import workspace packages from source through the `source` export condition, so no build
// is needed between an edit and a test run. No `module` condition: some packages (OpenTelemetry)
// point it at bundler-only builds that Node cannot load. No `import` condition for SSR either:
// Vitest hands these to the worker as `node --conditions`, and there `import` makes CommonJS
// `require` pick a package's ESM build (pg requiring pg-pool breaks); Node adds it for imports itself.
export default defineConfig({
  resolve: { conditions: ['source', 'import', 'node', 'default'] },
  ssr: { resolve: { conditions: ['source', 'node', 'default'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'services/*/src/**/*.test.ts', 'test/src/**/*.test.ts', 'bench/src/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    pool: 'forks',
    // Two cores: guests under software emulation need one each.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    // Safety nets against hangs, not speed checks: guests under software emulation on two shared
    // cores can take minutes to boot and run when several tests boot one at once.
    testTimeout: 240_000,
    hookTimeout: 300_000,
    reporters: ['default'],
  },
});
