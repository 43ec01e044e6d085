import { hostname } from 'node:os';
import { type Consumer, type ConsumerMessages, type JetStreamClient, type JsMsg, jetstream } from '@nats-io/jetstream';
import type { MsgHdrs, NatsConnection } from '@nats-io/transport-node';
import {
  type Context,
  type Link,
  type ObservableResult,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import type { ConsumerDefinition, MessageValidator, Subjects } from '@vmi/contracts';
import type { Static, TSchema } from 'typebox';
import { errorRecord, isPermanentError, publishDeadLetter } from './deadletter.js';
import { ensureConsumer } from './jetstream.js';
import type { Logger } from './logger.js';
import { extractTraceContext, getMeter, withSpan } from './telemetry.js';

/** What a handler learns about the message besides its validated body. */
export interface MessageContext {
  readonly subject: string;
  readonly streamSequence: number;
  /** 1 on first delivery, more on redelivery. */
  readonly deliveryCount: number;
  readonly headers: MsgHdrs | undefined;
  /** The trace context the message carried (parent for spans about this message). */
  readonly traceContext: Context;
  readonly logger: Logger;
  /** Resets the ack timer for a handler that runs long. */
  working(): void;
}

export interface ConsumerStats {
  /** Handled and acked. */
  processed: number;
  /** Handler failures sent back for redelivery. */
  failed: number;
  /** Sent to the dead-letter subject and acked. */
  deadLettered: number;
  inFlight: number;
}

export interface ConsumerHandle {
  readonly name: string;
  readonly stats: Readonly<ConsumerStats>;
  /** Stops fetching, waits for in-flight messages to finish and be acked. Idempotent. */
  stop(): Promise<void>;
}

interface CommonOptions<T extends TSchema> {
  nc: NatsConnection;
  consumer: ConsumerDefinition;
  validator: MessageValidator<T>;
  logger: Logger;
  /** Builds the dead-letter subject (the prefix in use). */
  subjects: Subjects;
  /** `host` of dead-letter records; the machine's name by default. */
  hostName?: string;
  /** Delay before redelivery after a failure, by delivery count. Default: 0.5 s doubling, at most 30 s. */
  retryDelayMs?: (deliveryCount: number) => number;
  /** Create or update the durable consumer first (default true). */
  ensure?: boolean;
  /** How long one pull waits for messages (JetStream minimum 1000 ms). */
  fetchExpiresMs?: number;
}

export interface RunConsumerOptions<T extends TSchema> extends CommonOptions<T> {
  handler: (value: Static<T>, ctx: MessageContext) => Promise<void>;
  /** Messages handled at once (default 16). */
  concurrency?: number;
}

export interface BatchItem<T extends TSchema> {
  value: Static<T>;
  ctx: MessageContext;
}

export interface RunBatchConsumerOptions<T extends TSchema> extends CommonOptions<T> {
  /** Gets every valid message of one pull; all are acked when it resolves, all retried when it throws. */
  handler: (batch: BatchItem<T>[]) => Promise<void>;
  /** Most messages per batch (default 256). */
  batchSize?: number;
  /**
   * Start the next batch's handler as soon as that batch is validated, while the earlier ones'
   * may still run (at most `heldBatches` at once), instead of after them. For a handler that
   * orders its own commits (a queue, say) and can prepare the next batch meanwhile. Default false.
   */
  overlap?: boolean;
  /**
   * Batches pulled and not yet acked, at most (default 2: the one being handled and the next).
   * More lets the pull, validation and preparation of later batches ride out a slow moment
   * instead of leaving the handler waiting; memory and unacked messages grow with it.
   */
  heldBatches?: number;
}

/** A message's context, read from the message itself when asked (batches hold thousands). */
class DeliveredContext implements MessageContext {
  constructor(
    private readonly m: JsMsg,
    readonly traceContext: Context,
    readonly logger: Logger,
  ) {}
  get subject(): string {
    return this.m.subject;
  }
  get streamSequence(): number {
    return this.m.info.streamSequence;
  }
  get deliveryCount(): number {
    return this.m.info.deliveryCount;
  }
  get headers(): MsgHdrs | undefined {
    return this.m.headers;
  }
  working(): void {
    this.m.working();
  }
}

const defaultRetryDelay = (deliveries: number) => Math.min(30_000, 500 * 2 ** Math.max(0, deliveries - 1));
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** The parts both loops share: validation, dead letters, retries, counters and the fetch loop. */
class ConsumerCore<T extends TSchema> {
  readonly stats: ConsumerStats = { processed: 0, failed: 0, deadLettered: 0, inFlight: 0 };
  readonly js: JetStreamClient;
  readonly log: Logger;
  readonly name: string;
  running = true;
  current: ConsumerMessages | undefined;
  private readonly counter = getMeter().createCounter('vmi.consumer.messages', {
    description: 'Messages taken from a durable consumer, by outcome',
  });
  private readonly where: { stream: string; consumer: string; hostName: string };
  /** Messages the consumer still had waiting when the last one was delivered: its lag. */
  private lag = 0;
  private readonly lagGauge = getMeter().createObservableGauge('vmi.consumer.lag', {
    description: 'Messages waiting in a durable consumer behind the last delivered one',
  });
  private readonly observeLag = (result: ObservableResult) => result.observe(this.lag, { consumer: this.name });

  constructor(readonly options: CommonOptions<T>) {
    this.js = jetstream(options.nc);
    this.lagGauge.addCallback(this.observeLag);
    this.name = `${options.consumer.stream}/${options.consumer.durable_name}`;
    this.log = options.logger.child({ consumer: this.name });
    this.where = { stream: options.consumer.stream, consumer: options.consumer.durable_name, hostName: options.hostName ?? hostname() };
  }

  async open(): Promise<Consumer> {
    if (this.options.ensure !== false) await ensureConsumer(this.options.nc, this.options.consumer);
    return this.js.consumers.get(this.options.consumer.stream, this.options.consumer.durable_name);
  }

  private count(outcome: string, n = 1) {
    this.counter.add(n, { consumer: this.name, outcome });
  }

  context(m: JsMsg, traceContext: Context): MessageContext {
    return new DeliveredContext(m, traceContext, this.log);
  }

  /** Keeps a long-running message from being redelivered while it is still being handled. */
  keepAlive(messages: JsMsg[]): NodeJS.Timeout {
    const every = Math.max(1000, Math.floor(this.options.consumer.ack_wait / 1e6 / 2));
    const t = setInterval(() => {
      for (const m of messages) m.working();
    }, every);
    t.unref();
    return t;
  }

  /** Validates a message; on failure it is dead-lettered (and acked) and null returned. */
  async decode(m: JsMsg): Promise<Static<T> | null> {
    try {
      return this.options.validator.decode(m.data);
    } catch (err) {
      await this.deadLetter(m, err);
      return null;
    }
  }

  async deadLetter(m: JsMsg, err: unknown): Promise<void> {
    const record = errorRecord(err);
    try {
      await publishDeadLetter(this.js, this.options.subjects, m, err, this.where);
      m.ack();
      this.stats.deadLettered++;
      this.count('dead-lettered');
      this.log.warn({ subject: m.subject, seq: m.info.streamSequence, error: record }, 'message dead-lettered');
    } catch (publishErr) {
      // The dead-letter stream is unreachable: keep the message rather than lose it.
      this.stats.failed++;
      this.count('failed');
      this.log.error(
        { err: publishErr, subject: m.subject, seq: m.info.streamSequence, error: record },
        'dead letter not published; message kept for redelivery',
      );
      m.nak(this.retryDelay(m));
    }
  }

  retryDelay(m: JsMsg): number {
    return (this.options.retryDelayMs ?? defaultRetryDelay)(m.info.deliveryCount);
  }

  /** A handler failed for this message: retry it, or dead-letter it when no retry can help. */
  async failed(m: JsMsg, err: unknown): Promise<void> {
    const maxDeliver = this.options.consumer.max_deliver;
    const lastTry = maxDeliver > 0 && m.info.deliveryCount >= maxDeliver;
    if (isPermanentError(err) || lastTry) {
      await this.deadLetter(m, err);
      return;
    }
    this.stats.failed++;
    this.count('failed');
    this.log.warn(
      { err, subject: m.subject, seq: m.info.streamSequence, deliveries: m.info.deliveryCount },
      'handler failed; message will be redelivered',
    );
    m.nak(this.retryDelay(m));
  }

  processed(n = 1) {
    this.stats.processed += n;
    this.count('processed', n);
  }

  /** One pull of at most `max` messages; each is passed to `onMessage` as it arrives. */
  async pull(consumer: Consumer, max: number, onMessage: (m: JsMsg) => void): Promise<void> {
    const iter = await consumer.fetch({ max_messages: max, expires: Math.max(1000, this.options.fetchExpiresMs ?? 1000) });
    this.current = iter;
    if (!this.running) iter.stop();
    try {
      for await (const m of iter) {
        // Arrived after stop: hand it straight back so another instance (or the restart) takes it.
        this.lag = m.info.pending;
        if (!this.running) m.nak();
        else onMessage(m);
      }
    } finally {
      this.current = undefined;
    }
  }

  async pullError(err: unknown): Promise<void> {
    if (!this.running) return;
    this.log.warn({ err }, 'pull failed; retrying');
    await sleep(1000);
  }

  haltFetching() {
    this.running = false;
    this.lagGauge.removeCallback(this.observeLag);
    this.current?.stop();
  }

  /** Acks are fire-and-forget publishes: a flush makes sure the server has them before we go. */
  async flush(): Promise<void> {
    if (!this.options.nc.isClosed()) await this.options.nc.flush().catch(() => undefined);
  }
}

function markError(span: Span, err: unknown) {
  span.recordException(err instanceof Error ? err : String(err));
  span.setStatus({ code: SpanStatusCode.ERROR, message: errorRecord(err).code });
}

function messageAttributes(m: JsMsg, def: ConsumerDefinition) {
  return {
    'messaging.system': 'nats',
    'messaging.operation.type': 'process',
    'messaging.destination.name': m.subject,
    'messaging.consumer.group.name': def.durable_name,
    'messaging.message.id': m.headers?.get('Nats-Msg-Id') ?? '',
    'messaging.nats.stream_sequence': m.info.streamSequence,
    'messaging.nats.delivery_count': m.info.deliveryCount,
  };
}

/**
 * Runs a durable pull consumer: each message is validated, handled inside a span that continues
 * the publisher's trace, and acked. A handler error retries the message after a delay; a message
 * that can never be processed (bad JSON, failed validation, a 400-class VmiError, or the last
 * allowed delivery failing) goes to the dead-letter subject with its error and is acked, and the
 * consumer carries on.
 */
export async function runConsumer<T extends TSchema>(options: RunConsumerOptions<T>): Promise<ConsumerHandle> {
  const core = new ConsumerCore(options);
  const consumer = await core.open();
  const concurrency = Math.max(1, options.concurrency ?? 16);
  const inflight = new Set<Promise<void>>();

  const handle = async (m: JsMsg): Promise<void> => {
    const parent = extractTraceContext(m.headers, ROOT_CONTEXT);
    await withSpan(
      `${options.consumer.stream} process`,
      async (span) => {
        const value = await core.decode(m);
        if (value === null) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: 'dead-lettered' });
          return;
        }
        const timer = core.keepAlive([m]);
        try {
          await options.handler(value, core.context(m, trace.setSpan(parent, span)));
          m.ack();
          core.processed();
        } catch (err) {
          markError(span, err);
          await core.failed(m, err);
        } finally {
          clearInterval(timer);
        }
      },
      { parent, kind: SpanKind.CONSUMER, attributes: messageAttributes(m, options.consumer) },
    ).catch((err: unknown) => core.log.error({ err }, 'message handling failed unexpectedly'));
  };

  const loop = (async () => {
    while (core.running) {
      while (inflight.size >= concurrency && core.running) await Promise.race(inflight);
      if (!core.running) break;
      try {
        await core.pull(consumer, concurrency - inflight.size, (m) => {
          core.stats.inFlight++;
          const p: Promise<void> = handle(m).finally(() => {
            core.stats.inFlight--;
            inflight.delete(p);
          });
          inflight.add(p);
        });
      } catch (err) {
        await core.pullError(err);
      }
    }
  })();

  let stopping: Promise<void> | undefined;
  return {
    name: core.name,
    stats: core.stats,
    stop() {
      stopping ??= (async () => {
        core.haltFetching();
        await loop;
        await Promise.allSettled([...inflight]);
        await core.flush();
        core.log.info({ stats: core.stats }, 'consumer stopped');
      })();
      return stopping;
    },
  };
}

/** One pulled batch after validation: what the handler gets, and the messages to ack after it. */
interface DecodedBatch<T extends TSchema> {
  items: BatchItem<T>[];
  accepted: JsMsg[];
  links: Link[];
}

/** A batch being pulled: its valid messages so far, and those that failed validation. */
interface ArrivingBatch<T extends TSchema> extends DecodedBatch<T> {
  refused: { m: JsMsg; err: unknown }[];
}

/**
 * Like {@link runConsumer}, but the handler gets every valid message of one pull at once (for
 * batched database inserts). The next batch is pulled and validated while the handler still works
 * on the current one, and no further than `heldBatches` (two by default) are held, each acked when
 * its handler resolves. Handlers run one after another, in stream order, unless `overlap` is set.
 */
export async function runBatchConsumer<T extends TSchema>(options: RunBatchConsumerOptions<T>): Promise<ConsumerHandle> {
  const core = new ConsumerCore(options);
  const consumer = await core.open();
  const batchSize = Math.max(1, options.batchSize ?? 256);
  const heldBatches = Math.max(1, options.heldBatches ?? 2);

  const handleOne = async (m: JsMsg, item: BatchItem<T>): Promise<void> => {
    try {
      await options.handler([item]);
      m.ack();
      core.processed();
    } catch (err) {
      await core.failed(m, err);
    }
  };

  /**
   * Validates one message of a batch as it arrives, so validation overlaps the rest of the pull
   * (the event loop still turns between the socket reads that deliver the batch). What fails is
   * kept aside for {@link deadLetterRefused}.
   */
  const validate = (batch: ArrivingBatch<T>, m: JsMsg): void => {
    let value: Static<T>;
    try {
      value = options.validator.decode(m.data);
    } catch (err) {
      batch.refused.push({ m, err });
      return;
    }
    const traceContext = extractTraceContext(m.headers, ROOT_CONTEXT);
    const sc = trace.getSpanContext(traceContext);
    if (sc !== undefined) batch.links.push({ context: sc });
    batch.items.push({ value, ctx: core.context(m, traceContext) });
    batch.accepted.push(m);
  };

  /** Dead-letters (and acks) what failed validation; the rest goes to the handler. */
  const deadLetterRefused = async (batch: ArrivingBatch<T>): Promise<DecodedBatch<T>> => {
    for (const { m, err } of batch.refused) await core.deadLetter(m, err);
    return batch;
  };

  const handleBatch = async ({ items, accepted, links }: DecodedBatch<T>): Promise<void> => {
    if (items.length === 0) return;
    try {
      await withSpan(`${options.consumer.stream} process batch`, () => options.handler(items), {
        parent: ROOT_CONTEXT,
        kind: SpanKind.CONSUMER,
        attributes: {
          'messaging.system': 'nats',
          'messaging.batch.message_count': items.length,
          'messaging.consumer.group.name': options.consumer.durable_name,
        },
        links,
      });
      for (const m of accepted) m.ack();
      core.processed(accepted.length);
    } catch (err) {
      if (isPermanentError(err) && items.length > 1) {
        // One bad message must not sink the good ones: retry each alone, so only it is dead-lettered.
        for (let i = 0; i < items.length; i++) await handleOne(accepted[i] as JsMsg, items[i] as BatchItem<T>);
      } else {
        for (const m of accepted) await core.failed(m, err);
      }
    }
  };

  /** Batches pulled and not yet acked, oldest first; each removes itself when done. */
  const held: Promise<void>[] = [];
  const loop = (async () => {
    let previous: Promise<void> = Promise.resolve();
    while (core.running) {
      // Bounded memory: no pull while as many batches as allowed are held.
      while (held.length >= heldBatches) await held[0];
      if (!core.running) break;
      const messages: JsMsg[] = [];
      const batch: ArrivingBatch<T> = { items: [], accepted: [], links: [], refused: [] };
      try {
        await core.pull(consumer, batchSize, (m) => {
          messages.push(m);
          validate(batch, m);
        });
      } catch (err) {
        await core.pullError(err);
      }
      if (messages.length === 0) continue;
      core.stats.inFlight += messages.length;
      // From delivery to ack, waiting behind the previous batch included.
      const timer = core.keepAlive(messages);
      const decoded = deadLetterRefused(batch);
      const after = previous;
      const handled = options.overlap === true ? decoded.then(handleBatch) : Promise.all([decoded, after]).then(([d]) => handleBatch(d));
      const done: Promise<void> = handled
        .catch((err: unknown) => core.log.error({ err }, 'batch handling failed unexpectedly'))
        .finally(() => {
          clearInterval(timer);
          core.stats.inFlight -= messages.length;
          held.splice(held.indexOf(done), 1);
        });
      held.push(done);
      previous = done;
    }
  })();

  let stopping: Promise<void> | undefined;
  return {
    name: core.name,
    stats: core.stats,
    stop() {
      stopping ??= (async () => {
        core.haltFetching();
        await loop;
        await Promise.allSettled([...held]);
        await core.flush();
        core.log.info({ stats: core.stats }, 'consumer stopped');
      })();
      return stopping;
    },
  };
}
