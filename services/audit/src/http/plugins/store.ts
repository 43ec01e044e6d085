import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { AuditDatabase } from '../../db/open.js';

/** What routes read and run: the open database and the service's other moving parts. */
export interface AuditStore {
  readonly database: AuditDatabase;
  /** Default maximum age for POST /v1/retention/run; 0 keeps everything. */
  readonly retentionMaxAgeS: number;
  /** Extra readiness checks (e.g. ingest consumers running), by name. */
  readonly readiness: Record<string, () => boolean | Promise<boolean>>;
}

declare module 'fastify' {
  interface FastifyInstance {
    audit: AuditStore;
  }
}

async function storePlugin(app: FastifyInstance, options: AuditStore): Promise<void> {
  app.decorate('audit', {
    database: options.database,
    retentionMaxAgeS: options.retentionMaxAgeS,
    readiness: options.readiness,
  });
}

export default fp(storePlugin, { name: 'audit-store', fastify: '5.x' });
