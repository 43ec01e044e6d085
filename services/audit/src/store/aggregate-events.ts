import { and, asc, sql } from 'drizzle-orm';
import type { AuditDb } from '../db/open.js';
import { events } from '../db/schema.js';
import { type EventFilter, filterConditions } from './query-events.js';

export type Bucket = 'minute' | 'hour' | 'day';

export interface AggregateGroup {
  readonly bucketStart: Date;
  readonly rule: string | null;
  readonly severity: string | null;
  readonly count: number;
}

export interface Aggregates {
  readonly groups: AggregateGroup[];
  readonly truncated: boolean;
}

/** Counts of matching events by time bucket (UTC), rule and severity, oldest bucket first. */
export async function aggregateEvents(db: AuditDb, filter: EventFilter, bucket: Bucket, maxGroups: number): Promise<Aggregates> {
  // The bucket is computed in a subquery so GROUP BY names a column, not a second copy of the
  // parameterised expression (Postgres would treat `$1` and `$4` as different expressions).
  const bucketed = db
    .select({
      bucketStart: sql<Date | string>`date_trunc(${bucket}, ${events.time}, 'UTC')`.as('bucket_start'),
      rule: events.rule,
      severity: events.severity,
    })
    .from(events)
    .where(and(...filterConditions(filter)))
    .as('bucketed');
  const rows = await db
    .select({
      bucketStart: bucketed.bucketStart,
      rule: bucketed.rule,
      severity: bucketed.severity,
      count: sql<number>`count(*)::int`,
    })
    .from(bucketed)
    .groupBy(bucketed.bucketStart, bucketed.rule, bucketed.severity)
    .orderBy(asc(bucketed.bucketStart), asc(bucketed.rule), asc(bucketed.severity))
    .limit(maxGroups + 1);
  const truncated = rows.length > maxGroups;
  return {
    truncated,
    groups: (truncated ? rows.slice(0, maxGroups) : rows).map((r) => ({
      bucketStart: toDate(r.bucketStart),
      rule: r.rule,
      severity: r.severity,
      count: Number(r.count),
    })),
  };
}

/** node-postgres parses timestamptz into a Date; other drivers may hand back the text. */
function toDate(value: Date | string): Date {
  return value instanceof Date ? value : new Date(value);
}
