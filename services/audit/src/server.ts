import { startService } from '@vmi/service-runtime';
import { buildApp } from './app.js';
import { AuditConfig } from './config.js';
import { openDatabase } from './db/open.js';
import { startIngest } from './ingest/start-ingest.js';
import { startRetentionTimer } from './retention-timer.js';
import { ChainWriter } from './store/append-events.js';

// Starts the audit service; everything it runs is built elsewhere (app.ts, ingest/, store/).
const service = await startService({ name: 'audit', config: AuditConfig });
const { config, logger, shutdown } = service;
try {
  const database = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.auditDataDir, poolSize: config.auditDbPoolSize });
  shutdown.add('database', () => database.close());
  logger.info({ database: database.kind }, 'database ready');
  if (config.auditTokens.length === 0) logger.warn('no AUDIT_TOKENS configured: every API route answers 401');

  const ingest = await startIngest({
    writer: new ChainWriter(database.db),
    streams: config.auditStreams,
    prefix: config.subjectPrefix,
    batchSize: config.auditBatchSize,
    maxAckPending: config.auditMaxAckPending,
    consumersPerStream: config.auditConsumersPerStream,
    consumeBatches: (options) => service.consumeBatches(options),
  });
  service.health.addCheck('database', () => database.ping());

  const app = await buildApp({
    database,
    tokens: config.auditTokens,
    retentionMaxAgeS: config.auditRetentionMaxAgeS,
    readiness: { nats: () => !service.nc.isClosed(), ingest: () => ingest.consumers.length > 0 },
    logger: logger.child({ component: 'http' }),
  });
  shutdown.add('http', () => app.close());
  const address = await app.listen({ host: config.auditHttpHost, port: config.auditHttpPort });
  logger.info({ address }, 'audit API listening');

  if (config.auditRetentionMaxAgeS > 0) {
    const timer = startRetentionTimer(database.db, config.auditRetentionMaxAgeS, config.auditRetentionIntervalS, logger);
    shutdown.add('retention', () => timer.stop());
  }
} catch (err) {
  logger.fatal({ err }, 'audit failed to start');
  await shutdown.run('start failed');
  process.exit(1);
}
