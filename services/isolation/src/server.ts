import { startService } from '@vmi/service-runtime';
import { IsolationConfig } from './config.js';
import { createIsolationService } from './service.js';

const ctx = await startService({ name: 'isolation', config: IsolationConfig });
try {
  const service = await createIsolationService(ctx);
  // Registered after NATS, so it runs before NATS drains: last events still go out.
  ctx.shutdown.add('isolation', () => service.close());
  ctx.health.addCheck('kernel-vms', () => service.registry.list().every((k) => k.state !== 'stopping'));
} catch (err) {
  ctx.logger.fatal({ err }, 'isolation service failed to start');
  await ctx.shutdown.run('start failed');
  process.exit(1);
}
