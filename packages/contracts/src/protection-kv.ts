import { DEFAULT_PREFIX, slugToken } from './subjects.js';

/**
 * Where host agents share protection state with scanners: one JetStream KV bucket per prefix, one
 * key per attached guest and one per protected object (with its baseline).
 */
export const protectionKv = {
  bucket: (prefix: string = DEFAULT_PREFIX) => `${prefix}-protection`,
  guestKey: (guest: string) => `${slugToken(guest)}.guest`,
  regionKey: (guest: string, object: string) => `${slugToken(guest)}.r.${slugToken(object)}`,
  /** Filter matching every object key of one guest. */
  regionFilter: (guest: string) => `${slugToken(guest)}.r.>`,
} as const;
