import { type Service, type ServiceMsg, Svcm } from '@nats-io/services';
import { CoreErrors, isVmiError, type Subjects, VmiError } from '@vmi/contracts';
import type { Logger, NatsConnection } from '@vmi/service-runtime';
import type { InputGateway } from '../gateway.js';

export const CONTROL_SERVICE = 'input';
export const CONTROL_OPERATIONS = ['identity', 'attach', 'detach', 'open', 'close', 'focus', 'status'] as const;

/**
 * Answers one control request: JSON in, JSON out, or a NATS service error whose body is
 * `{ error: { code, message, status } }`. Unexpected errors are reported as INTERNAL without their
 * text, which is not ours to repeat.
 */
function serve(msg: ServiceMsg, handler: (body: unknown) => unknown, logger: Logger): void {
  void (async () => {
    try {
      const text = msg.data.length === 0 ? '{}' : Buffer.from(msg.data).toString('utf8');
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new VmiError(CoreErrors.JSON_PARSE, 'control request');
      }
      msg.respond(JSON.stringify(await handler(body)));
    } catch (err) {
      const error = isVmiError(err) ? err : new VmiError(CoreErrors.INTERNAL);
      if (!isVmiError(err))
        logger.error({ subject: msg.subject, error_type: err instanceof Error ? err.name : typeof err }, 'control request failed');
      const reply = {
        error: {
          code: error.code,
          message: error.message.slice(0, 500),
          status: error.status,
          ...(error.path ? { path: error.path } : {}),
        },
      };
      msg.respondError(error.status, error.code, JSON.stringify(reply));
    }
  })();
}

/**
 * `vmi.ctl.input.{identity,attach,detach,open,close,focus,status}`: the gateway's control API as a
 * NATS micro service (discoverable with `$SRV.PING`, with per-endpoint stats).
 */
export async function startControlService(nc: NatsConnection, subjects: Subjects, gateway: InputGateway, logger: Logger): Promise<Service> {
  // @nats-io/services pins an older nats-core whose types differ only nominally from the connection's.
  const service = await new Svcm(nc as unknown as ConstructorParameters<typeof Svcm>[0]).add({
    name: 'input-gateway',
    version: '0.1.0',
    description: 'Security connections for secure input: open, focus, close, status',
    queue: '',
  });
  const group = service.addGroup(subjects.control(CONTROL_SERVICE), '');
  const handlers: Record<(typeof CONTROL_OPERATIONS)[number], (body: unknown) => unknown> = {
    identity: () => gateway.identity(),
    attach: (b) => gateway.attach(b),
    detach: (b) => gateway.detach(b),
    open: (b) => gateway.open(b),
    close: (b) => gateway.close(b),
    focus: (b) => gateway.focus(b),
    status: (b) => gateway.status(b),
  };
  for (const operation of CONTROL_OPERATIONS) {
    group.addEndpoint(operation, { handler: (_err, msg) => serve(msg, handlers[operation], logger) });
  }
  return service;
}
