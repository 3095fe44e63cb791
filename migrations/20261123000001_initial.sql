-- Purpose: create the whole schema: enums, users, solvers, tickets, sessions, session_messages, call_logs, sms_logs, ratings, screen_share_sessions
-- Reversible: Yes
-- Rollback:
--   DROP INDEX "sms_logs_ticket_id_idx";
--   DROP INDEX "sms_logs_session_id_idx";
--   DROP INDEX "sms_logs_provider_id_key";
--   DROP TABLE "sms_logs";
--   DROP INDEX "session_messages_session_id_seq_key";
--   DROP TABLE "session_messages";
--   DROP INDEX "screen_share_sessions_session_id_idx";
--   DROP TABLE "screen_share_sessions";
--   DROP INDEX "ratings_solver_id_created_at_idx";
--   DROP INDEX "ratings_session_id_key";
--   DROP TABLE "ratings";
--   DROP INDEX "call_logs_ticket_id_idx";
--   DROP INDEX "call_logs_session_id_idx";
--   DROP INDEX "call_logs_provider_id_key";
--   DROP TABLE "call_logs";
--   DROP INDEX "sessions_ticket_id_idx";
--   DROP INDEX "sessions_solver_id_idx";
--   DROP TABLE "sessions";
--   DROP INDEX "tickets_status_idx";
--   DROP INDEX "tickets_solver_id_idx";
--   DROP INDEX "tickets_queue_idx";
--   DROP INDEX "tickets_description_trgm_idx";
--   DROP INDEX "tickets_created_at_idx";
--   DROP TABLE "tickets";
--   DROP INDEX "solvers_user_id_key";
--   DROP INDEX "solvers_status_idx";
--   DROP TABLE "solvers";
--   DROP INDEX "users_clerk_id_key";
--   DROP TABLE "users";
--   DROP TYPE "solver_type";
--   DROP TYPE "message_sender";
--   DROP TYPE "solver_status";
--   DROP TYPE "device_type";
--   DROP TYPE "direction";
--   DROP TYPE "urgency";
--   DROP TYPE "ticket_status";
--   DROP TYPE "user_role";
--   DROP TYPE "ticket_tier";

-- Create enum type "ticket_tier"
CREATE TYPE "ticket_tier" AS ENUM ('standard', 'priority', 'premium');
-- Create enum type "user_role"
CREATE TYPE "user_role" AS ENUM ('customer', 'solver', 'admin');
-- Create enum type "ticket_status"
CREATE TYPE "ticket_status" AS ENUM ('pending', 'claimed', 'in_progress', 'completed', 'cancelled', 'refunded');
-- Create enum type "urgency"
CREATE TYPE "urgency" AS ENUM ('low', 'medium', 'high', 'critical');
-- Create enum type "direction"
CREATE TYPE "direction" AS ENUM ('inbound', 'outbound');
-- Create enum type "device_type"
CREATE TYPE "device_type" AS ENUM ('phone', 'tablet', 'computer', 'printer', 'network', 'smart_home', 'tv', 'other');
-- Create enum type "solver_status"
CREATE TYPE "solver_status" AS ENUM ('onboarding', 'active', 'inactive', 'suspended');
-- Create enum type "message_sender"
CREATE TYPE "message_sender" AS ENUM ('customer', 'solver', 'system');
-- Create enum type "solver_type"
CREATE TYPE "solver_type" AS ENUM ('general', 'specialist');
-- Create "users" table
CREATE TABLE "users" (
  "id" uuid NOT NULL DEFAULT gen_random_uuid(),
  "clerk_id" character varying(255) NOT NULL,
  "email" character varying(255) NOT NULL,
  "name" character varying(255) NULL,
  "phone" character varying(50) NULL,
  "role" "user_role" NOT NULL DEFAULT 'customer',
  "stripe_customer_id" character varying(255) NULL,
  "created_at" timestamptz NOT NULL DEFAULT now(),
  "updated_at" timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY ("id")
);
-- Create index "users_clerk_id_key" to table: "users"
CREATE UNIQUE INDEX "users_clerk_id_key" ON "users" ("clerk_id");
-- Create "solvers" table
CREATE TABLE "solvers" (
  "id" uuid NOT NULL DEFAULT gen_random_uuid(),
  "user_id" uuid NOT NULL,
  "type" "solver_type" NOT NULL DEFAULT 'general',
  "status" "solver_status" NOT NULL DEFAULT 'onboarding',
  "stripe_connect_id" character varying(255) NULL,
  "revenue_share_percent" integer NOT NULL DEFAULT 70,
  "stats" jsonb NOT NULL DEFAULT '{"totalRatings": 0, "averageRating": null, "completedSessions": 0, "totalEarningsCents": 0}',
  "google_email" character varying(255) NULL,
  "created_at" timestamptz NOT NULL DEFAULT now(),
  "updated_at" timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY ("id"),
  CONSTRAINT "solvers_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE CASCADE,
  CONSTRAINT "solvers_revenue_share_percent_check" CHECK ((revenue_share_percent >= 0) AND (revenue_share_percent <= 100))
);
-- Create index "solvers_status_idx" to table: "solvers"
CREATE INDEX "solvers_status_idx" ON "solvers" ("status", "created_at", "id");
-- Create index "solvers_user_id_key" to table: "solvers"
CREATE UNIQUE INDEX "solvers_user_id_key" ON "solvers" ("user_id");
-- Create "tickets" table
CREATE TABLE "tickets" (
  "id" uuid NOT NULL DEFAULT gen_random_uuid(),
  "customer_info" jsonb NOT NULL,
  "description" text NOT NULL,
  "device_type" "device_type" NOT NULL,
  "urgency" "urgency" NOT NULL DEFAULT 'medium',
  "status" "ticket_status" NOT NULL DEFAULT 'pending',
  "solver_id" uuid NULL,
  "claimed_at" timestamptz NULL,
  "created_at" timestamptz NOT NULL DEFAULT now(),
  "updated_at" timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY ("id"),
  CONSTRAINT "tickets_solver_id_fkey" FOREIGN KEY ("solver_id") REFERENCES "solvers" ("id") ON UPDATE NO ACTION ON DELETE RESTRICT
);
-- Create index "tickets_created_at_idx" to table: "tickets"
CREATE INDEX "tickets_created_at_idx" ON "tickets" ("created_at", "id");
-- Create index "tickets_description_trgm_idx" to table: "tickets"
CREATE INDEX "tickets_description_trgm_idx" ON "tickets" USING gin ("description" gin_trgm_ops);
-- Create index "tickets_queue_idx" to table: "tickets"
CREATE INDEX "tickets_queue_idx" ON "tickets" ("urgency" DESC, "created_at", "id") WHERE (status = 'pending'::ticket_status);
-- Create index "tickets_solver_id_idx" to table: "tickets"
CREATE INDEX "tickets_solver_id_idx" ON "tickets" ("solver_id", "created_at", "id");
-- Create index "tickets_status_idx" to table: "tickets"
CREATE INDEX "tickets_status_idx" ON "tickets" ("status", "created_at", "id");
-- Create "sessions" table
CREATE TABLE "sessions" (
  "id" uuid NOT NULL DEFAULT gen_random_uuid(),
  "ticket_id" uuid NOT NULL,
  "solver_id" uuid NOT NULL,
  "duration" integer NULL,
  "tier" "ticket_tier" NOT NULL DEFAULT 'standard',
  "pricing" jsonb NULL,
  "earnings" integer NULL,
  "payment_info" jsonb NULL,
  "message_count" integer NOT NULL DEFAULT 0,
  "started_at" timestamptz NULL,
  "ended_at" timestamptz NULL,
  "created_at" timestamptz NOT NULL DEFAULT now(),
  "updated_at" timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY ("id"),
  CONSTRAINT "sessions_solver_id_fkey" FOREIGN KEY ("solver_id") REFERENCES "solvers" ("id") ON UPDATE NO ACTION ON DELETE RESTRICT,
  CONSTRAINT "sessions_ticket_id_fkey" FOREIGN KEY ("ticket_id") REFERENCES "tickets" ("id") ON UPDATE NO ACTION ON DELETE RESTRICT
);
-- Create index "sessions_solver_id_idx" to table: "sessions"
CREATE INDEX "sessions_solver_id_idx" ON "sessions" ("solver_id", "created_at");
-- Create index "sessions_ticket_id_idx" to table: "sessions"
CREATE INDEX "sessions_ticket_id_idx" ON "sessions" ("ticket_id", "created_at");
-- Create "call_logs" table
CREATE TABLE "call_logs" (
  "id" uuid NOT NULL DEFAULT gen_random_uuid(),
  "ticket_id" uuid NULL,
  "session_id" uuid NULL,
  "provider_id" character varying(255) NOT NULL,
  "direction" "direction" NOT NULL,
  "from_number" character varying(50) NOT NULL,
  "to_number" character varying(50) NOT NULL,
  "status" character varying(50) NOT NULL,
  "duration" integer NULL,
  "recording_url" text NULL,
  "started_at" timestamptz NULL,
  "ended_at" timestamptz NULL,
  "created_at" timestamptz NOT NULL DEFAULT now(),
  "updated_at" timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY ("id"),
  CONSTRAINT "call_logs_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "sessions" ("id") ON UPDATE NO ACTION ON DELETE SET NULL,
  CONSTRAINT "call_logs_ticket_id_fkey" FOREIGN KEY ("ticket_id") REFERENCES "tickets" ("id") ON UPDATE NO ACTION ON DELETE SET NULL
);
-- Create index "call_logs_provider_id_key" to table: "call_logs"
CREATE UNIQUE INDEX "call_logs_provider_id_key" ON "call_logs" ("provider_id");
-- Create index "call_logs_session_id_idx" to table: "call_logs"
CREATE INDEX "call_logs_session_id_idx" ON "call_logs" ("session_id", "created_at");
-- Create index "call_logs_ticket_id_idx" to table: "call_logs"
CREATE INDEX "call_logs_ticket_id_idx" ON "call_logs" ("ticket_id", "created_at");
-- Create "ratings" table
CREATE TABLE "ratings" (
  "id" uuid NOT NULL DEFAULT gen_random_uuid(),
  "session_id" uuid NOT NULL,
  "solver_id" uuid NOT NULL,
  "rating" integer NOT NULL,
  "comment" text NULL,
  "created_at" timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY ("id"),
  CONSTRAINT "ratings_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "sessions" ("id") ON UPDATE NO ACTION ON DELETE CASCADE,
  CONSTRAINT "ratings_solver_id_fkey" FOREIGN KEY ("solver_id") REFERENCES "solvers" ("id") ON UPDATE NO ACTION ON DELETE RESTRICT,
  CONSTRAINT "ratings_rating_check" CHECK ((rating >= 1) AND (rating <= 5))
);
-- Create index "ratings_session_id_key" to table: "ratings"
CREATE UNIQUE INDEX "ratings_session_id_key" ON "ratings" ("session_id");
-- Create index "ratings_solver_id_created_at_idx" to table: "ratings"
CREATE INDEX "ratings_solver_id_created_at_idx" ON "ratings" ("solver_id", "created_at" DESC, "id" DESC);
-- Create "screen_share_sessions" table
CREATE TABLE "screen_share_sessions" (
  "id" uuid NOT NULL DEFAULT gen_random_uuid(),
  "session_id" uuid NOT NULL,
  "provider" character varying(50) NOT NULL,
  "status" character varying(50) NOT NULL,
  "join_url" text NULL,
  "started_at" timestamptz NULL,
  "ended_at" timestamptz NULL,
  "created_at" timestamptz NOT NULL DEFAULT now(),
  "updated_at" timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY ("id"),
  CONSTRAINT "screen_share_sessions_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "sessions" ("id") ON UPDATE NO ACTION ON DELETE CASCADE
);
-- Create index "screen_share_sessions_session_id_idx" to table: "screen_share_sessions"
CREATE INDEX "screen_share_sessions_session_id_idx" ON "screen_share_sessions" ("session_id", "created_at");
-- Create "session_messages" table
CREATE TABLE "session_messages" (
  "id" uuid NOT NULL DEFAULT gen_random_uuid(),
  "session_id" uuid NOT NULL,
  "seq" integer NOT NULL,
  "sender" "message_sender" NOT NULL,
  "author_id" uuid NULL,
  "body" text NOT NULL,
  "created_at" timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY ("id"),
  CONSTRAINT "session_messages_author_id_fkey" FOREIGN KEY ("author_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE RESTRICT,
  CONSTRAINT "session_messages_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "sessions" ("id") ON UPDATE NO ACTION ON DELETE CASCADE,
  CONSTRAINT "session_messages_body_check" CHECK ((char_length(body) >= 1) AND (char_length(body) <= 4000))
);
-- Create index "session_messages_session_id_seq_key" to table: "session_messages"
CREATE UNIQUE INDEX "session_messages_session_id_seq_key" ON "session_messages" ("session_id", "seq");
-- Create "sms_logs" table
CREATE TABLE "sms_logs" (
  "id" uuid NOT NULL DEFAULT gen_random_uuid(),
  "ticket_id" uuid NULL,
  "session_id" uuid NULL,
  "provider_id" character varying(255) NOT NULL,
  "direction" "direction" NOT NULL,
  "from_number" character varying(50) NOT NULL,
  "to_number" character varying(50) NOT NULL,
  "body" text NOT NULL,
  "status" character varying(50) NOT NULL,
  "created_at" timestamptz NOT NULL DEFAULT now(),
  "updated_at" timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY ("id"),
  CONSTRAINT "sms_logs_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "sessions" ("id") ON UPDATE NO ACTION ON DELETE SET NULL,
  CONSTRAINT "sms_logs_ticket_id_fkey" FOREIGN KEY ("ticket_id") REFERENCES "tickets" ("id") ON UPDATE NO ACTION ON DELETE SET NULL
);
-- Create index "sms_logs_provider_id_key" to table: "sms_logs"
CREATE UNIQUE INDEX "sms_logs_provider_id_key" ON "sms_logs" ("provider_id");
-- Create index "sms_logs_session_id_idx" to table: "sms_logs"
CREATE INDEX "sms_logs_session_id_idx" ON "sms_logs" ("session_id", "created_at");
-- Create index "sms_logs_ticket_id_idx" to table: "sms_logs"
CREATE INDEX "sms_logs_ticket_id_idx" ON "sms_logs" ("ticket_id", "created_at");
