import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  AuditApiError,
  AuditErrors,
  AuditEventPage,
  AuditEventQuery,
  AuditEventRecord,
  AuditFindingQuery,
  AuditIdParams,
  VmiError,
} from '@vmi/contracts';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { getEvent, listEvents } from '../../store/query-events.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { toEventRecord } from '../event-record.js';
import { toEventFilter } from '../query-filter.js';

const DEFAULT_LIMIT = 100;
const errors = { 400: AuditApiError, 401: AuditApiError, 403: AuditApiError };

/** GET /v1/events and /v1/findings (filtered, newest first, cursor pages) and each by id. */
async function eventRoutes(app: FastifyInstance): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const db = () => app.audit.database.db;

  r.get(
    '/v1/events',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'List stored events of every stream',
        tags: ['events'],
        security: [{ bearer: [] }],
        querystring: AuditEventQuery,
        response: { 200: AuditEventPage, ...errors },
      },
    },
    async (request) => {
      const q = request.query;
      const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
      const page = await listEvents(db(), toEventFilter(q), q.limit ?? DEFAULT_LIMIT, after);
      return { items: page.rows.map(toEventRecord), next_cursor: page.next === null ? null : encodeCursor(page.next) };
    },
  );

  r.get(
    '/v1/findings',
    {
      config: { scope: 'read' },
      schema: {
        summary: 'List stored findings',
        tags: ['findings'],
        security: [{ bearer: [] }],
        querystring: AuditFindingQuery,
        response: { 200: AuditEventPage, ...errors },
      },
    },
    async (request) => {
      const q = request.query;
      const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor);
      const page = await listEvents(db(), toEventFilter(q, 'finding'), q.limit ?? DEFAULT_LIMIT, after);
      return { items: page.rows.map(toEventRecord), next_cursor: page.next === null ? null : encodeCursor(page.next) };
    },
  );

  for (const [path, type, tag] of [
    ['/v1/events/:id', undefined, 'events'],
    ['/v1/findings/:id', 'finding', 'findings'],
  ] as const) {
    r.get(
      path,
      {
        config: { scope: 'read' },
        schema: {
          summary: type === undefined ? 'One stored event' : 'One stored finding',
          tags: [tag],
          security: [{ bearer: [] }],
          params: AuditIdParams,
          response: { 200: AuditEventRecord, 404: AuditApiError, ...errors },
        },
      },
      async (request) => {
        const row = await getEvent(db(), request.params.id.toLowerCase(), type);
        if (row === undefined) throw new VmiError(AuditErrors.NOT_FOUND, request.params.id, { path: '/params/id' });
        return toEventRecord(row);
      },
    );
  }
}

export default fp(eventRoutes, {
  name: 'audit-event-routes',
  fastify: '5.x',
  dependencies: ['audit-store', 'audit-auth', 'audit-errors', 'audit-openapi'],
});
