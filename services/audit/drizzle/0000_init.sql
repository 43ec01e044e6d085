CREATE TABLE "audit_chain_checkpoints" (
	"seq" bigint PRIMARY KEY NOT NULL,
	"row_hash" text NOT NULL,
	"removed" bigint NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "audit_chain_head" (
	"id" integer PRIMARY KEY NOT NULL,
	"seq" bigint NOT NULL,
	"row_hash" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "audit_events" (
	"id" uuid PRIMARY KEY NOT NULL,
	"seq" bigint NOT NULL,
	"stream" text NOT NULL,
	"subject" text NOT NULL,
	"type" text NOT NULL,
	"host" text,
	"guest" text,
	"time" timestamp (3) with time zone NOT NULL,
	"severity" text,
	"rule" text,
	"body" jsonb NOT NULL,
	"ingested_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"prev_hash" text NOT NULL,
	"row_hash" text NOT NULL,
	CONSTRAINT "audit_events_seq_key" UNIQUE("seq")
);
--> statement-breakpoint
CREATE INDEX "audit_events_time_idx" ON "audit_events" USING btree ("time","id");--> statement-breakpoint
CREATE INDEX "audit_events_host_time_idx" ON "audit_events" USING btree ("host","time","id");--> statement-breakpoint
CREATE INDEX "audit_events_guest_time_idx" ON "audit_events" USING btree ("guest","time","id");--> statement-breakpoint
CREATE INDEX "audit_events_type_time_idx" ON "audit_events" USING btree ("type","time","id");--> statement-breakpoint
CREATE INDEX "audit_events_rule_time_idx" ON "audit_events" USING btree ("rule","time","id") WHERE "audit_events"."rule" is not null;--> statement-breakpoint
CREATE INDEX "audit_events_severity_time_idx" ON "audit_events" USING btree ("severity","time","id") WHERE "audit_events"."severity" is not null;