import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { AuditDatabase } from './db/open.js';
import auth from './http/plugins/auth.js';
import errors from './http/plugins/errors.js';
import openapi from './http/plugins/openapi.js';
import store from './http/plugins/store.js';
import adminRoutes from './http/routes/admin.js';
import aggregateRoutes from './http/routes/aggregates.js';
import eventRoutes from './http/routes/events.js';
import healthRoutes from './http/routes/health.js';
import { strictValidatorCompiler } from './http/validator-compiler.js';

export interface AppOptions {
  readonly database: AuditDatabase;
  /** `scope:token` entries (read or admin). */
  readonly tokens: readonly string[];
  readonly retentionMaxAgeS?: number;
  readonly readiness?: Record<string, () => boolean | Promise<boolean>>;
  /** Fastify's logger option: a pino instance, or false (tests). */
  readonly logger?: FastifyServerOptions['loggerInstance'] | false;
}

/** Builds the REST API without listening, so tests drive it with inject(). */
export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    ...(options.logger ? { loggerInstance: options.logger } : { logger: false }),
    bodyLimit: 64 * 1024,
    routerOptions: { maxParamLength: 200 },
  });
  // Query strings, params and bodies are checked by the TypeBox compiler; unknown fields are
  // refused rather than dropped.
  app.setValidatorCompiler(strictValidatorCompiler);
  await app.register(errors);
  await app.register(auth, { tokens: options.tokens });
  await app.register(openapi);
  await app.register(store, {
    database: options.database,
    retentionMaxAgeS: options.retentionMaxAgeS ?? 0,
    readiness: options.readiness ?? {},
  });
  await app.register(healthRoutes);
  await app.register(eventRoutes);
  await app.register(aggregateRoutes);
  await app.register(adminRoutes);
  await app.ready();
  return app;
}
