import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AuditHealthReply } from '@vmi/contracts';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/** /healthz: the process answers. /readyz: the database answers and every readiness check passes. */
async function healthRoutes(app: FastifyInstance): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get('/healthz', { schema: { tags: ['health'], response: { 200: AuditHealthReply } } }, async () => ({
    status: 'ok' as const,
    checks: {},
  }));
  r.get(
    '/readyz',
    { schema: { tags: ['health'], response: { 200: AuditHealthReply, 503: AuditHealthReply } } },
    async (_request, reply) => {
      const checks: Record<string, boolean> = { database: await app.audit.database.ping() };
      for (const [name, check] of Object.entries(app.audit.readiness)) {
        checks[name] = await Promise.resolve()
          .then(check)
          .catch(() => false);
      }
      const ready = Object.values(checks).every(Boolean);
      return reply.status(ready ? 200 : 503).send({ status: ready ? 'ok' : 'unavailable', checks });
    },
  );
}

export default fp(healthRoutes, { name: 'audit-health-routes', fastify: '5.x', dependencies: ['audit-store', 'audit-openapi'] });
