-- Purpose: store each signed webhook delivery (Clerk, Telnyx) once, durably, before it is acknowledged; a River job applies it and sets processed_at
-- Reversible: Yes
-- Rollback:
--   DROP INDEX "webhook_events_subject_idx";
--   DROP INDEX "webhook_events_source_delivery_id_key";
--   DROP INDEX "webhook_events_received_at_idx";
--   DROP TABLE "webhook_events";

-- Create "webhook_events" table
CREATE TABLE "webhook_events" (
  "id" uuid NOT NULL DEFAULT gen_random_uuid(),
  "source" character varying(20) NOT NULL,
  "delivery_id" character varying(255) NOT NULL,
  "event_type" character varying(100) NOT NULL,
  "subject_id" character varying(255) NULL,
  "occurred_at" timestamptz NULL,
  "payload" jsonb NOT NULL,
  "received_at" timestamptz NOT NULL DEFAULT now(),
  "processed_at" timestamptz NULL,
  PRIMARY KEY ("id"),
  CONSTRAINT "webhook_events_source_check" CHECK ((source)::text = ANY (ARRAY[('clerk'::character varying)::text, ('telnyx'::character varying)::text]))
);
-- Create index "webhook_events_received_at_idx" to table: "webhook_events"
CREATE INDEX "webhook_events_received_at_idx" ON "webhook_events" ("received_at");
-- Create index "webhook_events_source_delivery_id_key" to table: "webhook_events"
CREATE UNIQUE INDEX "webhook_events_source_delivery_id_key" ON "webhook_events" ("source", "delivery_id");
-- Create index "webhook_events_subject_idx" to table: "webhook_events"
CREATE INDEX "webhook_events_subject_idx" ON "webhook_events" ("source", "subject_id", "occurred_at");
