import { AggregationTemporality, InMemoryMetricExporter, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { validators } from '@vmi/contracts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConsumerHandle, runConsumer } from './consumer.js';
import { jetstream, publishMessage } from './jetstream.js';
import { initTelemetry, type Telemetry } from './telemetry.js';
import { scanRequest } from './test-messages.js';
import { eventually, type NatsSandbox, natsSandbox } from './test-support.js';

describe('runtime metrics', () => {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
  let telemetry: Telemetry;
  let sandbox: NatsSandbox;
  let handle: ConsumerHandle | undefined;
  beforeAll(async () => {
    telemetry = initTelemetry({ serviceName: 'metrics-test', metricReaders: [reader] });
    sandbox = await natsSandbox(['scans', 'deadLetters']);
  });
  afterAll(async () => {
    await handle?.stop();
    await sandbox?.close();
    await telemetry?.shutdown();
  });

  it('records publish latency, consumer lag and message outcomes', async () => {
    const js = jetstream(sandbox.nc);
    const msgs = [scanRequest(), scanRequest(), scanRequest()];
    for (const m of msgs) await publishMessage(js, sandbox.subjects.scan(m.host, m.guest), m);
    await publishMessage(js, sandbox.subjects.scan(msgs[0]?.host ?? 'h', msgs[0]?.guest ?? 'g'), msgs[0] as (typeof msgs)[0]);
    handle = await runConsumer({
      nc: sandbox.nc,
      consumer: sandbox.consumer('scans', 'measured'),
      validator: validators.scanRequest,
      logger: sandbox.logger,
      subjects: sandbox.subjects,
      concurrency: 1,
      handler: async () => undefined,
    });
    await eventually(() => handle?.stats.processed === 3, 'three processed messages');
    await reader.forceFlush();

    const metrics = exporter.getMetrics().flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics));
    const byName = (name: string) => metrics.filter((m) => m.descriptor.name === name).flatMap((m) => m.dataPoints as unknown[]);

    const publishes = byName('vmi.publish.duration') as { attributes: Record<string, unknown>; value: { count: number } }[];
    const stored = publishes.find((p) => p.attributes.outcome === 'stored');
    const duplicate = publishes.find((p) => p.attributes.outcome === 'duplicate');
    expect(stored?.value.count).toBe(3);
    expect(duplicate?.value.count).toBe(1);
    expect(stored?.attributes['messaging.destination.kind']).toBe('scan');

    const lag = byName('vmi.consumer.lag') as { value: number }[];
    expect(lag).toHaveLength(1);
    expect(lag[0]?.value).toBe(0);

    const outcomes = byName('vmi.consumer.messages') as { attributes: Record<string, unknown>; value: number }[];
    expect(outcomes.find((o) => o.attributes.outcome === 'processed')?.value).toBe(3);
  });
});
