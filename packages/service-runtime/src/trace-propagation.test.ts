import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { validators } from '@vmi/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConsumerHandle, runConsumer } from './consumer.js';
import { jetstream, publishMessage } from './jetstream.js';
import { initTelemetry, type Telemetry, withSpan } from './telemetry.js';
import { scanRequest } from './test-messages.js';
import { eventually, type NatsSandbox, natsSandbox } from './test-support.js';

describe('trace context across NATS', () => {
  const exporter = new InMemorySpanExporter();
  let telemetry: Telemetry;
  let sandbox: NatsSandbox;
  let handle: ConsumerHandle | undefined;
  beforeAll(async () => {
    telemetry = initTelemetry({ serviceName: 'trace-test', spanProcessors: [new SimpleSpanProcessor(exporter)] });
    sandbox = await natsSandbox(['scans', 'deadLetters']);
  });
  afterAll(async () => {
    await handle?.stop();
    await sandbox?.close();
    await telemetry?.shutdown();
  });

  it('continues a trace started before the publish in the consumer', async () => {
    const msg = scanRequest();
    const logged: Record<string, unknown>[] = [];
    handle = await runConsumer({
      nc: sandbox.nc,
      consumer: sandbox.consumer('scans', 'traced'),
      validator: validators.scanRequest,
      logger: sandbox.logger,
      subjects: sandbox.subjects,
      handler: async (_value, ctx) => {
        await withSpan('check regions', async () => {
          ctx.logger.info('checking');
        });
      },
    });
    await withSpan('request scan', () => publishMessage(jetstream(sandbox.nc), sandbox.subjects.scan(msg.host, msg.guest), msg), {
      kind: SpanKind.PRODUCER,
    });
    await eventually(() => handle?.stats.processed === 1, 'the message to be processed');
    await eventually(() => exporter.getFinishedSpans().length >= 3, 'three finished spans');

    const spans = exporter.getFinishedSpans();
    const producer = spans.find((s) => s.name === 'request scan');
    const consumer = spans.find((s) => s.name === `${sandbox.streams[0]?.name} process`);
    const child = spans.find((s) => s.name === 'check regions');
    expect(producer && consumer && child).toBeTruthy();
    const traceId = producer?.spanContext().traceId;
    expect(consumer?.spanContext().traceId).toBe(traceId);
    expect(child?.spanContext().traceId).toBe(traceId);
    expect(consumer?.parentSpanContext?.spanId).toBe(producer?.spanContext().spanId);
    expect(child?.parentSpanContext?.spanId).toBe(consumer?.spanContext().spanId);
    expect(consumer?.kind).toBe(SpanKind.CONSUMER);
    expect(consumer?.attributes['messaging.message.id']).toBe(msg.id);

    // Log lines written inside the handler carry the trace too.
    logged.push(...sandbox.lines.filter((l) => l.msg === 'checking'));
    expect(logged[0]?.trace_id).toBe(traceId);
    expect(logged[0]?.span_id).toBe(child?.spanContext().spanId);
  });
});
