import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { type AuditDatabase, openDatabase } from '../db/open.js';

/** The Postgres server the tests use; each run gets its own database there, dropped afterwards. */
export const TEST_POSTGRES_URL = process.env.AUDIT_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Where one test's data lives: a fresh PGlite directory or a fresh Postgres database. */
export interface TestStorage {
  readonly backend: 'pglite' | 'postgres';
  /** DATABASE_URL for a child process (undefined for PGlite). */
  readonly databaseUrl: string | undefined;
  /** AUDIT_DATA_DIR for a child process. */
  readonly dataDir: string;
  open(): Promise<AuditDatabase>;
  /** Removes the database or directory. */
  drop(): Promise<void>;
}

export const BACKENDS = ['pglite', 'postgres'] as const;

export async function createTestStorage(backend: 'pglite' | 'postgres'): Promise<TestStorage> {
  const dataDir = mkdtempSync(join(tmpdir(), 'audit-test-'));
  if (backend === 'pglite') {
    cpSync(await pgliteTemplate(), dataDir, { recursive: true });
    return {
      backend,
      databaseUrl: undefined,
      dataDir,
      open: () => openDatabase({ dataDir }),
      drop: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  }
  const name = `audit_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(name)}`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  return {
    backend,
    databaseUrl,
    dataDir,
    open: () => openDatabase({ databaseUrl, dataDir }),
    drop: async () => {
      rmSync(dataDir, { recursive: true, force: true });
      const c = new pg.Client({ connectionString: TEST_POSTGRES_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/**
 * A freshly initialised, empty PGlite data directory, made once per machine and copied for each
 * test: initdb under WASM takes tens of seconds on a busy machine, reopening a directory two.
 * The name carries the PGlite minor version, whose data directories are not interchangeable.
 */
async function pgliteTemplate(): Promise<string> {
  const template = join(tmpdir(), `audit-pglite-template-0.5`);
  if (existsSync(join(template, 'PG_VERSION'))) return template;
  const building = mkdtempSync(join(tmpdir(), 'audit-pglite-building-'));
  const db = await PGlite.create(building);
  await db.close();
  try {
    renameSync(building, template);
  } catch {
    // Another test process finished first; its template is as good.
    rmSync(building, { recursive: true, force: true });
  }
  return template;
}
