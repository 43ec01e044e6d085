import { createHash } from 'node:crypto';
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import {
  CoreErrors,
  type DeadLetter,
  idAt,
  isVmiError,
  NATS_HEADERS,
  Name,
  nowIso,
  SCHEMA_VERSION,
  type Subjects,
  validators,
} from '@vmi/contracts';
import { Compile } from 'typebox/compile';
import { publishMessage } from './jetstream.js';

/** Larger payloads are cut so the dead letter still fits the stream's message size limit. */
const MAX_KEPT_PAYLOAD = 1_000_000;
const guestName = Compile(Name);

export interface ErrorRecord {
  code: string;
  message: string;
  path: string | null;
}

/** The stable code, message and field path of any thrown value (unknown errors become INTERNAL). */
export function errorRecord(err: unknown): ErrorRecord {
  if (isVmiError(err)) return { code: err.code, message: err.message.slice(0, 2000), path: err.path ?? null };
  const message = err instanceof Error ? err.message : String(err);
  return { code: CoreErrors.INTERNAL.code, message: message.slice(0, 2000), path: null };
}

/** True for errors no retry can fix: the message itself is bad (HTTP 400 class). */
export function isPermanentError(err: unknown): boolean {
  return isVmiError(err) && err.status === 400;
}

/** The guest the message was about, when its payload says so; null otherwise. */
function guestOf(data: Uint8Array): string | null {
  try {
    const parsed = JSON.parse(Buffer.from(data).toString('utf8')) as { guest?: unknown };
    return typeof parsed.guest === 'string' && guestName.Check(parsed.guest) ? parsed.guest : null;
  } catch {
    return null;
  }
}

/**
 * The dead letter's id (and so its `Nats-Msg-Id`): a UUIDv7 whose time is when the stream stored
 * the original message and whose other bits hash the stream, the consumer, the stream sequence and
 * that time. A message dead-lettered again (its ack was lost to a crash, say) gets the same id, so
 * JetStream drops the copy within its duplicate window and the audit trail stores it once after
 * that; a stream recreated with the same sequences still gives new ids, its messages' times differ.
 */
export function deadLetterId(where: { stream: string; consumer: string }, streamSequence: number, timestampNanos: number): string {
  const digest = createHash('sha256').update(`${where.stream}\n${where.consumer}\n${streamSequence}\n${timestampNanos}`).digest();
  return idAt(timestampNanos / 1e6, digest);
}

export function buildDeadLetter(m: JsMsg, err: unknown, where: { stream: string; consumer: string; hostName: string }): DeadLetter {
  const truncated = m.data.length > MAX_KEPT_PAYLOAD;
  const kept = truncated ? m.data.subarray(0, MAX_KEPT_PAYLOAD) : m.data;
  return validators.deadLetter.parse({
    id: deadLetterId(where, m.info.streamSequence, m.info.timestampNanos),
    time: nowIso(),
    version: SCHEMA_VERSION,
    type: 'deadletter',
    host: where.hostName,
    guest: guestOf(m.data),
    stream: where.stream,
    consumer: where.consumer,
    subject: m.subject.slice(0, 512),
    stream_seq: m.info.streamSequence,
    deliveries: m.info.deliveryCount,
    error: errorRecord(err),
    payload_base64: Buffer.from(kept).toString('base64'),
    payload_truncated: truncated,
  } satisfies DeadLetter);
}

/** Publishes the dead letter for `m` on `<prefix>.deadletter.<stream>.<consumer>`. */
export async function publishDeadLetter(
  js: JetStreamClient,
  subjects: Subjects,
  m: JsMsg,
  err: unknown,
  where: { stream: string; consumer: string; hostName: string },
): Promise<DeadLetter> {
  const record = buildDeadLetter(m, err, where);
  await publishMessage(js, subjects.deadLetter(where.stream, where.consumer), record, {
    headers: { [NATS_HEADERS.errorCode]: record.error.code, [NATS_HEADERS.originalSubject]: record.subject },
  });
  return record;
}
