import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { AuditAggregateQuery, AuditAggregateReply, AuditApiError } from '@vmi/contracts';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { aggregateEvents } from '../../store/aggregate-events.js';
import { toEventFilter } from '../query-filter.js';

/** Groups one reply may hold; a wider request is told it was truncated. */
const MAX_GROUPS = 10_000;

/** GET /v1/aggregates: counts by rule and severity per time bucket. */
async function aggregateRoutes(app: FastifyInstance): Promise<void> {
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/v1/aggregates',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'Counts by rule and severity per time bucket (findings unless type is given)',
        tags: ['aggregates'],
        security: [{ bearer: [] }],
        querystring: AuditAggregateQuery,
        response: { 200: AuditAggregateReply, 400: AuditApiError, 401: AuditApiError, 403: AuditApiError },
      },
    },
    async (request) => {
      const bucket = request.query.bucket ?? 'hour';
      const filter = toEventFilter({ ...request.query, type: request.query.type ?? 'finding' });
      const result = await aggregateEvents(app.audit.database.db, filter, bucket, MAX_GROUPS);
      return {
        bucket,
        truncated: result.truncated,
        groups: result.groups.map((g) => ({
          bucket_start: g.bucketStart.toISOString(),
          rule: g.rule,
          severity: g.severity,
          count: g.count,
        })),
      };
    },
  );
}

export default fp(aggregateRoutes, {
  name: 'audit-aggregate-routes',
  fastify: '5.x',
  dependencies: ['audit-store', 'audit-auth', 'audit-errors', 'audit-openapi'],
});
