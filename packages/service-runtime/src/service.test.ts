import { randomBytes } from 'node:crypto';
import { allStreamDefinitions, consumerDefinition, validators } from '@vmi/contracts';
import Type from 'typebox';
import { describe, expect, it } from 'vitest';
import { deleteStreams, publishMessage } from './jetstream.js';
import { connectNats } from './nats.js';
import { startService } from './service.js';
import { scanRequest } from './test-messages.js';
import { captureLogger, eventually, TEST_NATS_URL } from './test-support.js';

describe('a service started with startService', () => {
  it('reads its config, creates the streams, serves health, consumes, and shuts down in order', async () => {
    const prefix = `t${randomBytes(5).toString('hex')}`;
    const service = await startService({
      name: 'example',
      config: Type.Object({ workers: Type.Integer({ minimum: 1, default: 2 }) }),
      env: { NATS_URL: TEST_NATS_URL, SUBJECT_PREFIX: prefix, WORKERS: '3', LOG_LEVEL: 'silent', HOST_NAME: 'hv-test' },
      handleSignals: false,
    });
    try {
      expect(service.config).toMatchObject({ workers: 3, subjectPrefix: prefix, hostName: 'hv-test', healthPort: 0 });
      const ready = await fetch(`${service.health.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: 'ready', checks: { nats: true } });

      const seen: string[] = [];
      const handle = await service.consume({
        consumer: consumerDefinition('scans', 'example', { prefix }),
        validator: validators.scanRequest,
        handler: async (value) => {
          seen.push(value.id);
        },
      });
      const msg = scanRequest();
      await publishMessage(service.js, service.subjects.scan(msg.host, msg.guest), msg);
      await eventually(() => seen.length === 1, 'the message to be consumed');
      expect(seen).toEqual([msg.id]);

      await service.shutdown.run('test');
      expect(service.nc.isClosed()).toBe(true);
      expect(handle.stats.inFlight).toBe(0);
      await expect(fetch(`${service.health.url}/healthz`)).rejects.toThrow();
    } finally {
      await service.shutdown.run('test');
      const nc = await connectNats({ servers: TEST_NATS_URL, name: 'cleanup', logger: captureLogger().logger });
      await deleteStreams(
        nc,
        allStreamDefinitions(prefix).map((d) => d.name),
      );
      await nc.drain();
    }
  });

  it('fails to start with an error naming a bad variable', async () => {
    await expect(startService({ name: 'example', env: { HEALTH_PORT: 'eighty' }, handleSignals: false })).rejects.toMatchObject({
      code: 'VMI_ERR_CONFIG',
      details: { variable: 'HEALTH_PORT' },
    });
  });
});
