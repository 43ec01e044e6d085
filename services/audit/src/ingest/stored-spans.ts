import type { StreamKey } from '@vmi/contracts';
import { type BatchItem, getTracer } from '@vmi/service-runtime';
import type { TSchema } from 'typebox';

/**
 * One short span per stored message that arrived with trace context, as a child of the span that
 * published it, so a trace runs from the trap through the finding to its audit row. The batch span
 * itself has many parents and can only link to them.
 */
export function recordStoredSpans(stream: StreamKey, batch: readonly BatchItem<TSchema>[], startTime: number): void {
  const tracer = getTracer('@vmi/audit');
  for (const { ctx } of batch) {
    if (ctx.headers?.get('traceparent') === undefined || ctx.headers.get('traceparent') === '') continue;
    tracer
      .startSpan(
        'audit store',
        {
          startTime,
          attributes: {
            'vmi.stream': stream,
            'messaging.message.id': ctx.headers.get('Nats-Msg-Id') ?? '',
            'messaging.destination.name': ctx.subject,
          },
        },
        ctx.traceContext,
      )
      .end();
  }
}
