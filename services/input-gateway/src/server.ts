import { startService } from '@vmi/service-runtime';
import { InputGatewayConfig } from './config.js';
import { startControlService } from './control/control-service.js';
import { InputGateway } from './gateway.js';
import { buildKeyEndpoint, listenKeyEndpoint } from './http/key-endpoint.js';

/** Starts the input gateway: control service on NATS, key endpoint on loopback. */
const ctx = await startService({ name: 'input-gateway', config: InputGatewayConfig });
const { config, logger } = ctx;
const gateway = await InputGateway.create({
  js: ctx.js,
  subjects: ctx.subjects,
  host: config.hostName,
  logger,
  settings: {
    backoff: { baseMs: config.inputRetryBaseMs, maxMs: config.inputRetryMaxMs },
    requestTimeoutMs: config.inputRequestTimeoutMs,
    maxPending: config.inputMaxPending,
  },
});
ctx.shutdown.add('gateway', () => gateway.stop());
for (const pair of config.inputGuests) {
  const at = pair.indexOf('=');
  await gateway.attach({ guest: pair.slice(0, at), qmp_socket: pair.slice(at + 1) });
}
const control = await startControlService(ctx.nc, ctx.subjects, gateway, logger);
ctx.shutdown.add('control service', () => control.stop().then(() => undefined));
const keys = buildKeyEndpoint(gateway);
const url = await listenKeyEndpoint(keys, config.inputHttpHost, config.inputHttpPort);
ctx.shutdown.add('key endpoint', () => keys.close());
ctx.health.addCheck('key endpoint', () => keys.server.listening);
logger.info({ url, key_id: gateway.identity().key_id }, 'input gateway ready');
