import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { AuditErrors, VmiError } from '@vmi/contracts';
import { sql } from 'drizzle-orm';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import pg from 'pg';
import { schema } from './schema.js';

/** The drizzle database both drivers give: every query in this package is written against it. */
export type AuditDb = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface AuditDatabase {
  readonly db: AuditDb;
  readonly kind: 'postgres' | 'pglite';
  /** True when a trivial query succeeds. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** A Postgres URL; embedded PGlite in `dataDir` when absent. */
  readonly databaseUrl?: string | undefined;
  readonly dataDir: string;
  readonly poolSize?: number;
}

/** The committed drizzle-kit migrations, resolved from this file so source and dist both find them. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../drizzle', import.meta.url));

/** Opens Postgres or PGlite and applies the committed migrations before anything else runs. */
export async function openDatabase(options: DatabaseOptions): Promise<AuditDatabase> {
  const database = options.databaseUrl ? await openPostgres(options.databaseUrl, options.poolSize ?? 4) : await openPglite(options.dataDir);
  try {
    await database.migrate();
  } catch (cause) {
    await database.close().catch(() => undefined);
    throw new VmiError(AuditErrors.MIGRATION, cause instanceof Error ? cause.message : String(cause), { cause });
  }
  return database;
}

type Opened = AuditDatabase & { migrate(): Promise<void> };

async function openPostgres(url: string, max: number): Promise<Opened> {
  const pool = new pg.Pool({ connectionString: url, max });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  const db = drizzlePg({ client: pool, schema });
  return {
    db: db as unknown as AuditDb,
    kind: 'postgres',
    migrate: () => migratePg(db, { migrationsFolder: MIGRATIONS_DIR }),
    ping: () => ping(db as unknown as AuditDb),
    close: () => pool.end(),
  };
}

async function openPglite(dataDir: string): Promise<Opened> {
  mkdirSync(dataDir, { recursive: true });
  const client = await PGlite.create(dataDir);
  const db = drizzlePglite({ client, schema });
  return {
    db: db as unknown as AuditDb,
    kind: 'pglite',
    migrate: () => migratePglite(db, { migrationsFolder: MIGRATIONS_DIR }),
    ping: () => ping(db as unknown as AuditDb),
    close: () => client.close(),
  };
}

async function ping(db: AuditDb): Promise<boolean> {
  try {
    await db.execute(sql`select 1`);
    return true;
  } catch {
    return false;
  }
}
