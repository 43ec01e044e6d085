import { KeyInputReply, KeyInputRequest, Name } from '@vmi/contracts';
import type { FastifyPluginAsync } from 'fastify';
import Type from 'typebox';
import type { InputGateway } from '../gateway.js';

export const KEYS_ROUTE = '/v1/guests/:guest/keys';

/** `POST /v1/guests/:guest/keys`: a console's key events (or text) for one guest. */
export const keyRoutes: FastifyPluginAsync<{ gateway: InputGateway }> = async (app, { gateway }) => {
  app.post<{ Params: { guest: string }; Body: unknown }>(
    KEYS_ROUTE,
    {
      schema: {
        params: Type.Object({ guest: Name }, { additionalProperties: false }),
        body: KeyInputRequest,
        response: { 200: KeyInputReply },
      },
    },
    // The time the request was read, not when its handler ran: queueing in the gateway counts.
    async (request) => gateway.input(request.params.guest, request.body, request.receivedAt),
  );
};

declare module 'fastify' {
  interface FastifyRequest {
    receivedAt: number;
  }
}
