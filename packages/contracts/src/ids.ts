import { v7 as uuidv7 } from 'uuid';

/** A new time-ordered message id (UUIDv7): sortable by creation time, unique across hosts. */
export function newId(): string {
  return uuidv7();
}

/**
 * A UUIDv7 dated `msecs` whose other bits come from `seed` (at least 16 bytes, a digest of what the
 * id names): the same inputs always give the same id, so a message rebuilt after a crash keeps it.
 */
export function idAt(msecs: number, seed: Uint8Array): string {
  return uuidv7({ msecs: Math.max(0, Math.floor(msecs)), random: seed });
}

/** Milliseconds since the epoch encoded in a UUIDv7, or null if the id is not a v7 UUID. */
export function idTime(id: string): number | null {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i.test(id)) return null;
  return Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

export function nowIso(): string {
  return new Date().toISOString();
}
