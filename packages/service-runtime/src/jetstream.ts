import {
  type AckPolicy,
  type ConsumerConfig,
  type DeliverPolicy,
  type DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
  type PubAck,
  type RetentionPolicy,
  type StorageType,
  type StreamConfig,
} from '@nats-io/jetstream';
import { type MsgHdrs, type NatsConnection, headers as natsHeaders } from '@nats-io/transport-node';
import type { Histogram } from '@opentelemetry/api';
import type { MessageValidator } from '@vmi/contracts';
import { type ConsumerDefinition, NATS_HEADERS, type StreamDefinition } from '@vmi/contracts';
import type { TSchema } from 'typebox';
import { getMeter, injectTraceContext } from './telemetry.js';

function isNotFound(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamNotFound || err.code === JetStreamApiCodes.ConsumerNotFound || err.status === 404)
  );
}

function streamConfig(def: StreamDefinition): Partial<StreamConfig> & { name: string } {
  return {
    name: def.name,
    subjects: [...def.subjects],
    description: def.description,
    retention: def.retention as RetentionPolicy,
    storage: def.storage as StorageType,
    max_age: def.max_age,
    max_bytes: def.max_bytes,
    max_msg_size: def.max_msg_size,
    duplicate_window: def.duplicate_window,
    discard: def.discard as DiscardPolicy,
    num_replicas: def.num_replicas,
  };
}

async function manager(nc: NatsConnection | JetStreamManager): Promise<JetStreamManager> {
  return 'streams' in nc && 'consumers' in nc && 'getAccountInfo' in nc ? nc : jetstreamManager(nc as NatsConnection);
}

/**
 * Creates each stream, or updates it to the definition when it exists (retention and storage
 * cannot change in place; JetStream refuses, and so does this).
 */
export async function ensureStreams(nc: NatsConnection | JetStreamManager, defs: readonly StreamDefinition[]): Promise<void> {
  const jsm = await manager(nc);
  for (const def of defs) {
    const config = streamConfig(def);
    try {
      await jsm.streams.info(def.name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await jsm.streams.add(config);
      continue;
    }
    const { name, retention: _r, storage: _s, ...update } = config;
    await jsm.streams.update(name, update);
  }
}

/** Deletes streams (tests clean up with this); a missing stream is not an error. */
export async function deleteStreams(nc: NatsConnection | JetStreamManager, names: readonly string[]): Promise<void> {
  const jsm = await manager(nc);
  for (const name of names) {
    try {
      await jsm.streams.delete(name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}

/** Deletes durable consumers of one stream; a missing consumer (or stream) is not an error. Returns those deleted. */
export async function deleteConsumers(nc: NatsConnection | JetStreamManager, stream: string, names: readonly string[]): Promise<string[]> {
  const jsm = await manager(nc);
  const deleted: string[] = [];
  for (const name of names) {
    try {
      await jsm.consumers.delete(stream, name);
      deleted.push(name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  return deleted;
}

function consumerConfig(def: ConsumerDefinition): Partial<ConsumerConfig> & { durable_name: string } {
  return {
    durable_name: def.durable_name,
    description: def.description,
    filter_subject: def.filter_subject,
    ack_policy: def.ack_policy as AckPolicy,
    deliver_policy: def.deliver_policy as DeliverPolicy,
    ack_wait: def.ack_wait,
    max_deliver: def.max_deliver,
    max_ack_pending: def.max_ack_pending,
  };
}

/** Creates the durable consumer, or updates its mutable settings when it exists. */
export async function ensureConsumer(nc: NatsConnection | JetStreamManager, def: ConsumerDefinition): Promise<void> {
  const jsm = await manager(nc);
  const config = consumerConfig(def);
  try {
    await jsm.consumers.info(def.stream, def.durable_name);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    await jsm.consumers.add(def.stream, config);
    return;
  }
  const { durable_name, deliver_policy: _d, ack_policy: _a, ...update } = config;
  await jsm.consumers.update(def.stream, durable_name, update);
}

export interface PublishOptions {
  /** Extra headers; `Nats-Msg-Id`, `traceparent` and `Vmi-Schema` are set by this function. */
  headers?: MsgHdrs | Record<string, string>;
  /** Validates the message before it leaves: a producer never publishes what consumers would refuse. */
  validator?: MessageValidator<TSchema>;
  /** Fail unless the subject is captured by this stream. */
  expectStream?: string;
  timeoutMs?: number;
}

/**
 * Publishes one message to JetStream with `Nats-Msg-Id` = `msg.id`, so a retry within the stream's
 * duplicate window is stored once (`PubAck.duplicate` is then true), and the active trace context
 * in the headers, so the consumer's span continues this trace.
 */
export async function publishMessage(
  js: JetStreamClient,
  subject: string,
  msg: { readonly id: string; readonly type?: string },
  options: PublishOptions = {},
): Promise<PubAck> {
  if (options.validator !== undefined) options.validator.parse(msg);
  const h = natsHeaders();
  if (options.headers !== undefined) {
    if (typeof (options.headers as MsgHdrs).keys === 'function' && typeof (options.headers as MsgHdrs).get === 'function') {
      const given = options.headers as MsgHdrs;
      for (const k of given.keys()) for (const v of given.values(k)) h.append(k, v);
    } else {
      for (const [k, v] of Object.entries(options.headers as Record<string, string>)) h.set(k, v);
    }
  }
  if (typeof msg.type === 'string') h.set(NATS_HEADERS.schema, msg.type);
  injectTraceContext(h);
  const started = performance.now();
  let outcome = 'error';
  try {
    const ack = await js.publish(subject, JSON.stringify(msg), {
      msgID: msg.id,
      headers: h,
      ...(options.expectStream === undefined ? {} : { expect: { streamName: options.expectStream } }),
      ...(options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs }),
    });
    outcome = ack.duplicate ? 'duplicate' : 'stored';
    return ack;
  } finally {
    publishDuration().record(performance.now() - started, { 'messaging.destination.kind': subject.split('.')[1] ?? '', outcome });
  }
}

const publishHistograms = new WeakMap<object, Histogram>();

/** The publish-latency histogram of the meter provider in force now (telemetry may start late). */
function publishDuration(): Histogram {
  const meter = getMeter();
  let h = publishHistograms.get(meter);
  if (h === undefined) {
    h = meter.createHistogram('vmi.publish.duration', { unit: 'ms', description: 'JetStream publish until the stream acknowledged it' });
    publishHistograms.set(meter, h);
  }
  return h;
}

export type { JetStreamClient, JetStreamManager, JsMsg, PubAck } from '@nats-io/jetstream';
export { jetstream, jetstreamManager } from '@nats-io/jetstream';
