import { context, trace } from '@opentelemetry/api';
import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';

export type { Logger } from 'pino';

/**
 * Field names whose values are secrets (input plaintext, keys, passwords). Pino replaces them with
 * `[redacted]` at the top level and one or two levels down, wherever a caller puts them.
 */
export const REDACTED_FIELDS = [
  'plaintext',
  'key',
  'keyMaterial',
  'key_material',
  'secret',
  'password',
  'pass',
  'natsPass',
  'token',
  'authorization',
  'cookie',
] as const;

function redactPaths(fields: readonly string[]): string[] {
  return fields.flatMap((f) => [f, `*.${f}`, `*.*.${f}`]);
}

export interface CreateLoggerOptions {
  service: string;
  level?: string;
  /** Extra fields on every line (e.g. `host`). */
  base?: Record<string, unknown>;
  /** Where lines go; standard output when omitted. Tests pass a stream to read them back. */
  destination?: DestinationStream;
}

/**
 * A JSON logger. Every line carries `service`, and `trace_id`/`span_id` of the active span, so a
 * log line can be found from a trace and the other way round.
 */
export function createLogger(options: CreateLoggerOptions): Logger {
  const config: LoggerOptions = {
    level: options.level ?? 'info',
    base: { service: options.service, pid: process.pid, ...options.base },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: redactPaths(REDACTED_FIELDS), censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
    mixin() {
      const span = trace.getSpan(context.active());
      if (span === undefined) return {};
      const sc = span.spanContext();
      return trace.isSpanContextValid(sc) ? { trace_id: sc.traceId, span_id: sc.spanId } : {};
    },
  };
  return options.destination === undefined ? pino(config) : pino(config, options.destination);
}
