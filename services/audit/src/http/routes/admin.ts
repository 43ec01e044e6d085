import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  AuditApiError,
  AuditChainVerifyReply,
  AuditChainVerifyRequest,
  AuditErrors,
  AuditRetentionReply,
  AuditRetentionRequest,
  VmiError,
} from '@vmi/contracts';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { runRetention } from '../../store/retention.js';
import { verifyChain } from '../../store/verify-chain.js';

const errors = { 400: AuditApiError, 401: AuditApiError, 403: AuditApiError };

/** Admin routes: chain verification and retention. Both accept an empty body. */
async function adminRoutes(app: FastifyInstance): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  // A POST without a body means "all defaults"; validation then sees an empty object.
  const emptyBodyIsDefaults = async (request: { body: unknown }) => {
    if (request.body === undefined || request.body === null) request.body = {};
  };

  r.post(
    '/v1/chain/verify',
    {
      config: { scope: 'admin' },
      preValidation: emptyBodyIsDefaults,
      schema: {
        summary: 'Verify the hash chain over a sequence range and report the first broken row',
        tags: ['admin'],
        security: [{ bearer: [] }],
        body: AuditChainVerifyRequest,
        response: { 200: AuditChainVerifyReply, ...errors },
      },
    },
    async (request) => {
      const { from_seq, to_seq } = request.body;
      if (from_seq !== undefined && to_seq !== undefined && from_seq > to_seq) {
        throw new VmiError(AuditErrors.BAD_RANGE, 'from_seq must not exceed to_seq', { path: '/body/to_seq' });
      }
      return verifyChain(app.audit.database.db, { fromSeq: from_seq, toSeq: to_seq });
    },
  );

  r.post(
    '/v1/retention/run',
    {
      config: { scope: 'admin' },
      preValidation: emptyBodyIsDefaults,
      schema: {
        summary: 'Remove events older than the maximum age, keeping a chain checkpoint',
        tags: ['admin'],
        security: [{ bearer: [] }],
        body: AuditRetentionRequest,
        response: { 200: AuditRetentionReply, ...errors },
      },
    },
    async (request) => {
      const maxAgeS = request.body.max_age_s ?? app.audit.retentionMaxAgeS;
      if (maxAgeS <= 0) {
        throw new VmiError(AuditErrors.BAD_REQUEST, 'no max_age_s given and no retention age configured', { path: '/body/max_age_s' });
      }
      const result = await runRetention(app.audit.database.db, new Date(Date.now() - maxAgeS * 1000));
      return {
        cutoff: result.cutoff.toISOString(),
        removed: result.removed,
        checkpoint:
          result.checkpoint === null
            ? null
            : { seq: result.checkpoint.seq, row_hash: result.checkpoint.rowHash, created_at: result.checkpoint.createdAt.toISOString() },
      };
    },
  );
}

export default fp(adminRoutes, {
  name: 'audit-admin-routes',
  fastify: '5.x',
  dependencies: ['audit-store', 'audit-auth', 'audit-errors', 'audit-openapi'],
});
