import { newId, nowIso } from './ids.js';
import { SCHEMA_VERSION } from './schemas/common.js';

/** The fields every message carries; {@link makeMessage} fills them. */
export interface Envelope<T extends string> {
  id: string;
  time: string;
  version: typeof SCHEMA_VERSION;
  type: T;
  host: string;
  guest: string;
}

/**
 * A message with a fresh time-ordered id, the current time and schema version, and its own fields.
 * Validate it with its schema's validator before it leaves the process.
 */
export function makeMessage<const T extends string, F extends Record<string, unknown>>(
  type: T,
  host: string,
  guest: string,
  fields: F,
): Envelope<T> & F {
  return { id: newId(), time: nowIso(), version: SCHEMA_VERSION, type, host, guest, ...fields };
}
