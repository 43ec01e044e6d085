import Type, { type Static } from 'typebox';
import { MessageId, Name, SCHEMA_VERSION, Timestamp, Uint } from './common.js';

/**
 * A message that can never be processed, with why. The original payload is kept (base64, capped) so
 * nothing is lost; `guest` is null when it could not be told from the subject.
 */
export const DeadLetter = Type.Object(
  {
    id: MessageId,
    time: Timestamp,
    version: Type.Literal(SCHEMA_VERSION),
    type: Type.Literal('deadletter'),
    host: Name,
    guest: Type.Union([Name, Type.Null()]),
    stream: Type.String({ minLength: 1, maxLength: 64 }),
    consumer: Type.String({ minLength: 1, maxLength: 64 }),
    subject: Type.String({ minLength: 1, maxLength: 512 }),
    stream_seq: Uint,
    deliveries: Uint,
    error: Type.Object(
      { code: Type.String(), message: Type.String({ maxLength: 2000 }), path: Type.Union([Type.String(), Type.Null()]) },
      { additionalProperties: false },
    ),
    payload_base64: Type.String({ maxLength: 1_500_000 }),
    payload_truncated: Type.Boolean(),
  },
  {
    $id: 'deadletter',
    title: 'deadletter',
    description: 'A message that failed validation or processing for good',
    additionalProperties: false,
  },
);
export type DeadLetter = Static<typeof DeadLetter>;
