import type { JetStreamClient } from '@nats-io/jetstream';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { allStreamDefinitions, Subjects } from '@vmi/contracts';
import Type, { type Static, type TObject, type TSchema } from 'typebox';
import { BaseServiceConfig, loadConfig } from './config.js';
import { type ConsumerHandle, type RunBatchConsumerOptions, type RunConsumerOptions, runBatchConsumer, runConsumer } from './consumer.js';
import { type HealthServer, startHealthServer } from './health.js';
import { ensureStreams } from './jetstream.js';
import { createLogger, type Logger } from './logger.js';
import { connectNats } from './nats.js';
import { setProcessNice } from './process-priority.js';
import { createShutdown, type Shutdown } from './shutdown.js';
import { initTelemetry, type SpanProcessorList, type Telemetry } from './telemetry.js';

export interface StartServiceOptions<S extends TObject> {
  /** Service name: logs, traces, the NATS connection name. */
  name: string;
  /** The service's own settings, read from the environment alongside {@link BaseServiceConfig}. */
  config?: S;
  env?: NodeJS.ProcessEnv;
  /** Span processors instead of OTLP export (tests). */
  spanProcessors?: SpanProcessorList;
  /** SIGINT/SIGTERM run the shutdown and exit (default true; tests pass false). */
  handleSignals?: boolean;
  /** Keep trying to reach NATS at start instead of failing (default true). */
  waitForNats?: boolean;
  /** Create or update the platform's JetStream streams at start (default true). */
  ensureStreams?: boolean;
  /**
   * Nice value of the service's threads when `SERVICE_NICE` does not set one; unset leaves them as
   * inherited. Services on the detection path ask to run ahead of the guests.
   */
  defaultNice?: number;
}

export type ConsumerOptionsFor<T extends TSchema> = Omit<RunConsumerOptions<T>, 'nc' | 'logger' | 'subjects' | 'hostName'>;
export type BatchConsumerOptionsFor<T extends TSchema> = Omit<RunBatchConsumerOptions<T>, 'nc' | 'logger' | 'subjects' | 'hostName'>;

export interface ServiceContext<C> {
  readonly name: string;
  readonly config: C;
  readonly logger: Logger;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly subjects: Subjects;
  readonly telemetry: Telemetry;
  readonly health: HealthServer;
  readonly shutdown: Shutdown;
  /** Starts a durable consumer whose drain is part of shutdown (before NATS drains). */
  consume<T extends TSchema>(options: ConsumerOptionsFor<T>): Promise<ConsumerHandle>;
  consumeBatches<T extends TSchema>(options: BatchConsumerOptionsFor<T>): Promise<ConsumerHandle>;
}

/**
 * Wires what every service needs, in dependency order: configuration, logger, telemetry, health
 * endpoint, NATS (and streams), and a shutdown that stops work, drains NATS, closes the health
 * endpoint and flushes telemetry, in that order.
 */
export async function startService<S extends TObject = TObject<Record<never, never>>>(
  options: StartServiceOptions<S>,
): Promise<ServiceContext<BaseServiceConfig & Static<S>>> {
  const schema = Type.Object({ ...BaseServiceConfig.properties, ...(options.config?.properties ?? {}) });
  const config = loadConfig(schema, options.env) as unknown as BaseServiceConfig & Static<S>;
  const logger = createLogger({ service: options.name, level: config.logLevel, base: { host: config.hostName } });
  const nice = config.serviceNice ?? options.defaultNice;
  if (nice !== undefined) setProcessNice(nice, logger);
  const telemetry = initTelemetry({
    serviceName: options.name,
    otlpEndpoint: config.otelExporterOtlpEndpoint,
    metricExportIntervalMs: config.otelMetricExportInterval,
    ...(options.spanProcessors === undefined ? {} : { spanProcessors: options.spanProcessors }),
    attributes: { 'host.name': config.hostName },
  });
  let health: HealthServer | undefined;
  const shutdown = createShutdown(logger, { onStart: () => health?.setShuttingDown() });
  shutdown.add('telemetry', () => telemetry.shutdown());
  if (options.handleSignals !== false) shutdown.installSignalHandlers();

  try {
    health = await startHealthServer({ port: config.healthPort, host: config.healthHost });
    const server = health;
    shutdown.add('health', () => server.close());
    logger.info({ url: health.url }, 'health endpoint listening');

    const nc = await connectNats({
      servers: config.natsUrl,
      name: `${options.name}@${config.hostName}`,
      user: config.natsUser,
      pass: config.natsPass,
      credsFile: config.natsCreds,
      logger,
      waitOnFirstConnect: options.waitForNats ?? true,
    });
    shutdown.add('nats', async () => {
      if (!nc.isClosed()) await nc.drain();
    });
    health.addCheck('nats', () => !nc.isClosed() && !nc.isDraining() && nc.getServer() !== '');
    const subjects = new Subjects(config.subjectPrefix);
    if (options.ensureStreams !== false) await ensureStreams(nc, allStreamDefinitions(config.subjectPrefix));
    const js = jetstream(nc);

    const common = { nc, logger, subjects, hostName: config.hostName };
    const ctx: ServiceContext<BaseServiceConfig & Static<S>> = {
      name: options.name,
      config,
      logger,
      nc,
      js,
      subjects,
      telemetry,
      health,
      shutdown,
      async consume(consumerOptions) {
        const handle = await runConsumer({ ...consumerOptions, ...common });
        shutdown.add(`consumer ${handle.name}`, () => handle.stop());
        return handle;
      },
      async consumeBatches(consumerOptions) {
        const handle = await runBatchConsumer({ ...consumerOptions, ...common });
        shutdown.add(`consumer ${handle.name}`, () => handle.stop());
        return handle;
      },
    };
    logger.info({ prefix: config.subjectPrefix }, 'service started');
    return ctx;
  } catch (err) {
    await shutdown.run('start failed');
    shutdown.removeSignalHandlers();
    throw err;
  }
}
