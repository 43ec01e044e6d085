import { sql } from 'drizzle-orm';
import { bigint, index, integer, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/**
 * Every stored message, whatever its stream: the envelope fields the API filters on, the message
 * itself as jsonb, and the hash chain. `seq` is assigned by the single chain writer, contiguous
 * from 1, so a missing row shows as a gap.
 */
export const events = pgTable(
  'audit_events',
  {
    id: uuid('id').primaryKey(),
    seq: bigint('seq', { mode: 'number' }).notNull().unique('audit_events_seq_key'),
    stream: text('stream').notNull(),
    subject: text('subject').notNull(),
    type: text('type').notNull(),
    host: text('host'),
    guest: text('guest'),
    time: timestamp('time', { withTimezone: true, mode: 'date', precision: 3 }).notNull(),
    severity: text('severity'),
    rule: text('rule'),
    body: jsonb('body').notNull(),
    ingestedAt: timestamp('ingested_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
    prevHash: text('prev_hash').notNull(),
    rowHash: text('row_hash').notNull(),
  },
  (t) => [
    // Pages are newest first by (time, id); each filter gets an index that ends in that order.
    index('audit_events_time_idx').on(t.time, t.id),
    index('audit_events_host_time_idx').on(t.host, t.time, t.id),
    index('audit_events_guest_time_idx').on(t.guest, t.time, t.id),
    index('audit_events_type_time_idx').on(t.type, t.time, t.id),
    index('audit_events_rule_time_idx').on(t.rule, t.time, t.id).where(sql`${t.rule} is not null`),
    index('audit_events_severity_time_idx').on(t.severity, t.time, t.id).where(sql`${t.severity} is not null`),
    // Triage asks for one rule at one severity: without this, a rare pair scans the whole rule.
    index('audit_events_rule_severity_time_idx').on(t.rule, t.severity, t.time, t.id).where(sql`${t.rule} is not null`),
  ],
);

/** One row: where the chain ends, so the writer links the next row and truncation is visible. */
export const chainHead = pgTable('audit_chain_head', {
  id: integer('id').primaryKey(),
  seq: bigint('seq', { mode: 'number' }).notNull(),
  rowHash: text('row_hash').notNull(),
});

/** The hash of the last row each retention run removed: verification of what remains starts there. */
export const chainCheckpoints = pgTable('audit_chain_checkpoints', {
  seq: bigint('seq', { mode: 'number' }).primaryKey(),
  rowHash: text('row_hash').notNull(),
  removed: bigint('removed', { mode: 'number' }).notNull(),
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
});

export const schema = { events, chainHead, chainCheckpoints };
export type EventRow = typeof events.$inferSelect;
export type NewEventRow = typeof events.$inferInsert;
