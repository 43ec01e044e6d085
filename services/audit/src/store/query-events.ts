import { and, desc, eq, gte, lt, type SQL, sql } from 'drizzle-orm';
import type { AuditDb } from '../db/open.js';
import { type EventRow, events } from '../db/schema.js';

export interface EventFilter {
  readonly from?: Date | undefined;
  readonly to?: Date | undefined;
  readonly host?: string | undefined;
  readonly guest?: string | undefined;
  readonly type?: string | undefined;
  readonly severity?: string | undefined;
  readonly rule?: string | undefined;
}

/** Where the previous page stopped: pages run newest first by (time, id). */
export interface PagePosition {
  readonly time: Date;
  readonly id: string;
}

export interface EventPage {
  readonly rows: EventRow[];
  readonly next: PagePosition | null;
}

/** Every filter as a bound parameter of the query builder; nothing is spliced into SQL text. */
export function filterConditions(filter: EventFilter): SQL[] {
  const out: (SQL | undefined)[] = [
    filter.from === undefined ? undefined : gte(events.time, filter.from),
    filter.to === undefined ? undefined : lt(events.time, filter.to),
    filter.host === undefined ? undefined : eq(events.host, filter.host),
    filter.guest === undefined ? undefined : eq(events.guest, filter.guest),
    filter.type === undefined ? undefined : eq(events.type, filter.type),
    filter.severity === undefined ? undefined : eq(events.severity, filter.severity),
    filter.rule === undefined ? undefined : eq(events.rule, filter.rule),
  ];
  return out.filter((c): c is SQL => c !== undefined);
}

export async function listEvents(db: AuditDb, filter: EventFilter, limit: number, after?: PagePosition): Promise<EventPage> {
  const conditions = filterConditions(filter);
  if (after !== undefined) {
    // Row comparison walks the (…, time, id) indexes backwards from the cursor.
    conditions.push(sql`(${events.time}, ${events.id}) < (${after.time.toISOString()}::timestamptz, ${after.id}::uuid)`);
  }
  const rows = await db
    .select()
    .from(events)
    .where(and(...conditions))
    .orderBy(desc(events.time), desc(events.id))
    .limit(limit + 1);
  const more = rows.length > limit;
  const page = more ? rows.slice(0, limit) : rows;
  const last = page.at(-1);
  return { rows: page, next: more && last !== undefined ? { time: last.time, id: last.id } : null };
}

export async function getEvent(db: AuditDb, id: string, type?: string): Promise<EventRow | undefined> {
  const [row] = await db
    .select()
    .from(events)
    .where(and(eq(events.id, id), type === undefined ? undefined : eq(events.type, type)))
    .limit(1);
  return row;
}
