import {
  type Attributes,
  type Context,
  context,
  diag,
  type Link,
  metrics,
  propagation,
  type Span,
  type SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  trace,
} from '@opentelemetry/api';
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { type IMetricReader, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { NodeSDK, type NodeSDKConfiguration } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

export type SpanProcessorList = NonNullable<NodeSDKConfiguration['spanProcessors']>;

export interface TelemetryOptions {
  serviceName: string;
  /** OTLP/HTTP base URL (`http://collector:4318`); traces and metrics are exported there when set. */
  otlpEndpoint?: string | undefined;
  /** Span processors to use instead of (not besides) the OTLP one; tests pass an in-memory exporter. */
  spanProcessors?: SpanProcessorList;
  metricReaders?: IMetricReader[];
  /** Extra resource attributes, e.g. `host.name`. */
  attributes?: Attributes;
  metricExportIntervalMs?: number;
}

export interface Telemetry {
  /** True when spans are recorded (an exporter or processor is configured). */
  readonly tracing: boolean;
  shutdown(): Promise<void>;
}

let active: Telemetry | undefined;

/**
 * Starts the OpenTelemetry SDK once per process: W3C trace context and baggage propagation, OTLP
 * export of traces and metrics when an endpoint is configured. With no endpoint and no processors,
 * nothing is exported and spans are only propagated (an incoming trace still continues).
 */
export function initTelemetry(options: TelemetryOptions): Telemetry {
  if (active !== undefined) return active;
  const endpoint = options.otlpEndpoint?.replace(/\/+$/, '');
  const spanProcessors: SpanProcessorList =
    options.spanProcessors ??
    (endpoint === undefined ? [] : [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint}/v1/traces` }))]);
  const metricReaders: IMetricReader[] =
    options.metricReaders ??
    (endpoint === undefined
      ? []
      : [
          new PeriodicExportingMetricReader({
            exporter: new OTLPMetricExporter({ url: `${endpoint}/v1/metrics` }),
            exportIntervalMillis: options.metricExportIntervalMs ?? 60_000,
          }),
        ]);
  const sdk = new NodeSDK({
    serviceName: options.serviceName,
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName, ...options.attributes }),
    // Detectors and environment-driven exporters are off: what is exported is what is configured here.
    autoDetectResources: false,
    instrumentations: [],
    spanProcessors,
    metricReaders,
    logRecordProcessors: [],
    textMapPropagator: new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }),
  });
  sdk.start();
  let stopped: Promise<void> | undefined;
  const telemetry: Telemetry = {
    tracing: spanProcessors.length > 0,
    shutdown() {
      stopped ??= sdk
        .shutdown()
        .catch((err: unknown) => diag.error('telemetry shutdown failed', err))
        .finally(() => {
          // Unregister the globals so a later initTelemetry in the same process starts clean.
          trace.disable();
          metrics.disable();
          propagation.disable();
          context.disable();
          if (active === telemetry) active = undefined;
        });
      return stopped;
    },
  };
  active = telemetry;
  return telemetry;
}

/** Header carriers: NATS `MsgHdrs`, or a plain record. */
export interface HeaderCarrier {
  get(key: string): string;
  set(key: string, value: string): void;
  keys(): string[];
}

const setter: TextMapSetter<HeaderCarrier> = {
  set: (carrier, key, value) => carrier.set(key, value),
};
const getter: TextMapGetter<HeaderCarrier | undefined> = {
  get: (carrier, key) => {
    const v = carrier?.get(key);
    return v === undefined || v === '' ? undefined : v;
  },
  keys: (carrier) => carrier?.keys() ?? [],
};

/** Writes `traceparent` (and `tracestate`, baggage) of the active (or given) context into headers. */
export function injectTraceContext<H extends HeaderCarrier>(headers: H, ctx: Context = context.active()): H {
  propagation.inject(ctx, headers, setter);
  return headers;
}

/** The context a message's headers carry, on top of the active one. */
export function extractTraceContext(headers: HeaderCarrier | undefined, ctx: Context = context.active()): Context {
  return propagation.extract(ctx, headers, getter);
}

export function getTracer(name = '@vmi/service-runtime') {
  return trace.getTracer(name);
}

export function getMeter(name = '@vmi/service-runtime') {
  return metrics.getMeter(name);
}

export interface WithSpanOptions {
  /** The parent context (e.g. from {@link extractTraceContext}); the active one when omitted. */
  parent?: Context;
  kind?: SpanKind;
  attributes?: Attributes;
  links?: Link[];
  tracer?: string;
}

/**
 * Runs `fn` inside a new active span that ends when `fn` settles; an error is recorded on the span
 * and rethrown.
 */
export function withSpan<T>(name: string, fn: (span: Span) => Promise<T> | T, options: WithSpanOptions = {}): Promise<T> {
  const tracer = getTracer(options.tracer);
  const parent = options.parent ?? context.active();
  return tracer.startActiveSpan(
    name,
    { kind: options.kind, attributes: options.attributes, links: options.links },
    parent,
    async (span) => {
      try {
        return await fn(span);
      } catch (err) {
        span.recordException(err instanceof Error ? err : String(err));
        span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
        throw err;
      } finally {
        span.end();
      }
    },
  );
}
