import { isIP } from 'node:net';
import { CoreErrors, isVmiError, VmiError } from '@vmi/contracts';
import { contractsValidatorCompiler } from '@vmi/secure-input-server';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { InputGateway } from '../gateway.js';
import { keyRoutes } from './key-routes.js';

/**
 * The local key endpoint: plaintext keys come in here, so it listens on loopback only, logs no
 * request, and answers errors by code with messages of its own (a JSON parser's message may
 * quote the body).
 */
export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

export function buildKeyEndpoint(gateway: InputGateway): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024, keepAliveTimeout: 60_000 });
  app.decorateRequest('receivedAt', 0);
  app.addHook('onRequest', async (request) => {
    request.receivedAt = performance.now();
  });
  app.setValidatorCompiler(contractsValidatorCompiler);
  app.setErrorHandler((error: FastifyError | VmiError, _request, reply) => {
    let vmi: VmiError;
    if (isVmiError(error)) vmi = error;
    else if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      vmi = new VmiError(error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ? CoreErrors.JSON_PARSE : CoreErrors.VALIDATION, 'request refused');
    } else vmi = new VmiError(CoreErrors.INTERNAL);
    void reply
      .status(vmi.status)
      .send({ error: { code: vmi.code, message: vmi.message, status: vmi.status, ...(vmi.path ? { path: vmi.path } : {}) } });
  });
  void app.register(keyRoutes, { gateway });
  return app;
}

export async function listenKeyEndpoint(app: FastifyInstance, host: string, port: number): Promise<string> {
  if (!isLoopback(host))
    throw new VmiError(CoreErrors.CONFIG, 'the key endpoint listens on loopback only', { details: { variable: 'INPUT_HTTP_HOST' } });
  return app.listen({ host, port });
}
