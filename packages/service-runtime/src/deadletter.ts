import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import {
  CoreErrors,
  type DeadLetter,
  isVmiError,
  NATS_HEADERS,
  Name,
  newId,
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

export function buildDeadLetter(m: JsMsg, err: unknown, where: { stream: string; consumer: string; hostName: string }): DeadLetter {
  const truncated = m.data.length > MAX_KEPT_PAYLOAD;
  const kept = truncated ? m.data.subarray(0, MAX_KEPT_PAYLOAD) : m.data;
  return validators.deadLetter.parse({
    id: newId(),
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
