import { AuditErrors, VmiError } from '@vmi/contracts';
import type { PagePosition } from '../store/query-events.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** The position after the last row of a page, as an opaque token (base64url of `[time, id]`). */
export function encodeCursor(position: PagePosition): string {
  return Buffer.from(JSON.stringify([position.time.toISOString(), position.id]), 'utf8').toString('base64url');
}

/** Reads a cursor back; anything this service did not hand out is a 400 naming the field. */
export function decodeCursor(cursor: string): PagePosition {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw badCursor();
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) throw badCursor();
  const [time, id] = parsed as unknown[];
  if (typeof time !== 'string' || !ISO_MS.test(time) || typeof id !== 'string' || !UUID.test(id)) throw badCursor();
  const date = new Date(time);
  if (Number.isNaN(date.getTime()) || date.toISOString() !== time) throw badCursor();
  return { time: date, id };
}

function badCursor(): VmiError {
  return new VmiError(AuditErrors.BAD_CURSOR, undefined, { path: '/querystring/cursor' });
}
