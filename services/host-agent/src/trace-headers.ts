import { context, SpanKind, trace } from '@opentelemetry/api';
import { getTracer, injectTraceContext } from '@vmi/service-runtime';

/**
 * Starts and ends a producer span for one outgoing message and returns its trace context as
 * headers, taken now: the message may leave later (outbox retries) and must still carry this trace.
 */
export function traceHeaders(name: string, attributes: Record<string, string | number>): Record<string, string> {
  const span = getTracer('@vmi/host-agent').startSpan(name, { kind: SpanKind.PRODUCER, attributes });
  const headers: Record<string, string> = {};
  injectTraceContext(
    {
      get: (k) => headers[k] ?? '',
      set: (k, v) => {
        headers[k] = v;
      },
      keys: () => Object.keys(headers),
    },
    trace.setSpan(context.active(), span),
  );
  span.end();
  return headers;
}
