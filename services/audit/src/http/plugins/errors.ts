import { AuditErrors, CoreErrors, isVmiError, VmiError } from '@vmi/contracts';
import type { FastifyError, FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * One error shape for every reply: the VmiError wire form with a stable code. Validation failures
 * name the field (`/querystring/limit`); anything unexpected is logged and answered as a plain
 * 500 without internals.
 */
async function errorsPlugin(app: FastifyInstance): Promise<void> {
  app.setErrorHandler((error: FastifyError | VmiError, request, reply) => {
    const vmi = toVmiError(error);
    if (vmi.status >= 500) request.log.error({ err: error }, 'request failed');
    if (vmi.status === 401) reply.header('www-authenticate', 'Bearer');
    return reply.status(vmi.status).send(vmi.toJSON());
  });
  app.setNotFoundHandler((request, reply) => {
    const err = new VmiError(AuditErrors.NOT_FOUND, `${request.method} ${request.url.split('?')[0]?.slice(0, 200)}`);
    return reply.status(404).send(err.toJSON());
  });
}

function toVmiError(error: FastifyError | VmiError): VmiError {
  if (isVmiError(error)) return error;
  const fe = error as FastifyError;
  if (Array.isArray(fe.validation)) {
    const first = fe.validation[0];
    const path = `/${fe.validationContext ?? 'request'}${first?.instancePath ?? ''}`;
    return new VmiError(AuditErrors.BAD_REQUEST, `${path} ${first?.message ?? 'is invalid'}`, { path });
  }
  // Fastify's own client errors (bad JSON body, wrong media type, body too large) keep their status.
  const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500;
  if (status >= 400 && status < 500) {
    return new VmiError({ ...AuditErrors.BAD_REQUEST, status }, fe.message.slice(0, 200));
  }
  return new VmiError(CoreErrors.INTERNAL);
}

export default fp(errorsPlugin, { name: 'audit-errors', fastify: '5.x' });
