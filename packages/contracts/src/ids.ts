import { randomFillSync } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';

// Random bytes for new ids, drawn from the OS a few kilobytes at a time: asking it for 16 bytes
// per id cost more than everything else a trap event needs on its way out.
const POOL_IDS = 256;
const pool = new Uint8Array(16 * POOL_IDS);
let poolNext = POOL_IDS;
// Ids made in the same millisecond count up from a random start, so one process's ids sort in the
// order it made them (RFC 9562 method 1, as uuid's own v7 does).
const clock = { msecs: Number.NEGATIVE_INFINITY, seq: 0 };

function randomSixteen(): Uint8Array {
  if (poolNext === POOL_IDS) {
    randomFillSync(pool);
    poolNext = 0;
  }
  const at = 16 * poolNext++;
  return pool.subarray(at, at + 16);
}

/** A new time-ordered message id (UUIDv7): sortable by creation time, unique across hosts. */
export function newId(): string {
  const random = randomSixteen();
  const now = Date.now();
  if (now > clock.msecs) {
    clock.msecs = now;
    clock.seq =
      (((random[6] as number) & 0x7f) << 24) | ((random[7] as number) << 16) | ((random[8] as number) << 8) | (random[9] as number);
  } else {
    clock.seq = (clock.seq + 1) | 0;
    if (clock.seq === 0) clock.msecs++;
  }
  return uuidv7({ msecs: clock.msecs, seq: clock.seq, random });
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
