/**
 * @vmi/service-runtime: what every service shares. Configuration from the environment, JSON logs,
 * the NATS connection, JetStream publishing and durable consumers with dead letters, OpenTelemetry
 * with trace context in NATS headers, a health endpoint and graceful shutdown.
 */
export { BaseServiceConfig, envName, LogLevel, loadConfig } from './config.js';
export {
  type BatchItem,
  type ConsumerHandle,
  type ConsumerStats,
  type MessageContext,
  type RunBatchConsumerOptions,
  type RunConsumerOptions,
  runBatchConsumer,
  runConsumer,
} from './consumer.js';
export { buildDeadLetter, deadLetterId, type ErrorRecord, errorRecord, isPermanentError, publishDeadLetter } from './deadletter.js';
export { type HealthServer, type HealthServerOptions, type ReadinessCheck, startHealthServer } from './health.js';
export {
  deleteConsumers,
  deleteStreams,
  ensureConsumer,
  ensureStreams,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  jetstream,
  jetstreamManager,
  type PubAck,
  type PublishOptions,
  publishMessage,
} from './jetstream.js';
export { LineSplitter } from './json-lines.js';
export { type CreateLoggerOptions, createLogger, type Logger, REDACTED_FIELDS } from './logger.js';
export { type ConnectNatsOptions, connectNats, type NatsConnection } from './nats.js';
export { DETECTION_PATH_NICE, setProcessNice } from './process-priority.js';
export {
  type BatchConsumerOptionsFor,
  type ConsumerOptionsFor,
  type ServiceContext,
  type StartServiceOptions,
  startService,
} from './service.js';
export { type Closer, createShutdown, type Shutdown, type ShutdownOptions } from './shutdown.js';
export {
  extractTraceContext,
  getMeter,
  getTracer,
  type HeaderCarrier,
  initTelemetry,
  injectTraceContext,
  type SpanProcessorList,
  type Telemetry,
  type TelemetryOptions,
  type WithSpanOptions,
  withSpan,
} from './telemetry.js';
