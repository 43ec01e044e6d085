import { CONSUMERS, type StreamKey } from '@vmi/contracts';
import type { BatchConsumerOptionsFor, BatchItem, ConsumerHandle } from '@vmi/service-runtime';
import type { TUnsafe } from 'typebox';
import type { ChainWriter, IncomingEvent } from '../store/append-events.js';
import { createMessageDecoder, type DecodedMessage, registeredMessageValidators } from './message-decoder.js';
import { recordStoredSpans } from './stored-spans.js';

type Decoded = TUnsafe<DecodedMessage>;

export interface IngestOptions {
  readonly writer: ChainWriter;
  readonly streams: readonly StreamKey[];
  readonly prefix: string;
  readonly batchSize: number;
  readonly maxAckPending: number;
  /**
   * Pull loops sharing each durable consumer (default 1). One is enough to keep the database busy:
   * each loop pulls, validates and prepares the next batch while the current one commits. The
   * chain writer appends one batch at a time whatever the number.
   */
  readonly consumersPerStream?: number;
  /** Starts one durable batch consumer (the service context's `consumeBatches`, or a test's). */
  readonly consumeBatches: (options: BatchConsumerOptionsFor<Decoded>) => Promise<ConsumerHandle>;
}

export interface Ingest {
  readonly consumers: readonly ConsumerHandle[];
  stop(): Promise<void>;
}

/** The rows one pulled batch becomes; the consumer acks the batch only after this commit. */
export function toIncoming(stream: StreamKey, batch: readonly BatchItem<Decoded>[]): IncomingEvent[] {
  const out = new Array<IncomingEvent>(batch.length);
  for (let i = 0; i < batch.length; i++) {
    const { value, ctx } = batch[i] as BatchItem<Decoded>;
    const e = value.envelope;
    // Written out rather than spread: this runs for every stored message.
    out[i] = {
      id: e.id,
      stream,
      subject: ctx.subject,
      type: e.type,
      host: e.host,
      guest: e.guest,
      time: e.time,
      severity: e.severity,
      rule: e.rule,
      bodyJson: value.bodyJson,
      redelivered: ctx.deliveryCount > 1,
    };
  }
  return out;
}

/**
 * One durable consumer per audited stream. Each pull of at most `batchSize` messages is validated
 * (failures go to the dead-letter subject, which is itself audited), committed in one chain
 * transaction, then acked, so a crash at any point leaves messages unacked rather than lost, and
 * a redelivery is skipped by id. The consumer overlaps batches: while one commits, the next is
 * pulled, validated, hashed and serialised, and queues in the chain writer, which commits batches
 * one at a time in the order they arrive. At most three batches per loop are held, and JetStream's
 * max_ack_pending bounds what is in flight.
 */
export async function startIngest(options: IngestOptions): Promise<Ingest> {
  const validator = createMessageDecoder(registeredMessageValidators());
  const consumers: ConsumerHandle[] = [];
  try {
    for (const stream of options.streams) {
      const consumer = { ...CONSUMERS.audit(stream, options.prefix), max_ack_pending: options.maxAckPending };
      for (let loop = 0; loop < Math.max(1, options.consumersPerStream ?? 1); loop++) {
        consumers.push(
          await options.consumeBatches({
            consumer,
            validator,
            batchSize: options.batchSize,
            // The writer orders the commits; its prepare step runs while the previous batch commits.
            overlap: true,
            // One batch commits, one waits prepared, one is pulled and prepared: a pull that is
            // slow to arrive (the server is busy with the acks sent just before it) or a busy
            // moment of the CPU then delays a batch that is not needed yet.
            heldBatches: 3,
            // The first loop creates or updates the durable; the others join it.
            ensure: loop === 0,
            handler: async (batch) => {
              const started = Date.now();
              await options.writer.append(toIncoming(stream, batch));
              recordStoredSpans(stream, batch, started);
            },
          }),
        );
      }
    }
  } catch (err) {
    await Promise.allSettled(consumers.map((c) => c.stop()));
    throw err;
  }
  return {
    consumers,
    stop: async () => {
      await Promise.allSettled(consumers.map((c) => c.stop()));
    },
  };
}
