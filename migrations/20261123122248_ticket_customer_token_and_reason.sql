-- Purpose: link tickets to signed-in customers (customer_id), keep the hash of the guest access token, and record why a ticket was cancelled or refunded
-- Reversible: Yes
-- Rollback:
--   DROP INDEX "tickets_customer_id_idx";
--   DROP INDEX "tickets_access_token_hash_key";
--   ALTER TABLE "tickets" DROP CONSTRAINT "tickets_customer_id_fkey", DROP COLUMN "access_token_hash", DROP COLUMN "status_reason", DROP COLUMN "customer_id";

-- Modify "tickets" table
ALTER TABLE "tickets" ADD COLUMN "customer_id" uuid NULL, ADD COLUMN "status_reason" text NULL, ADD COLUMN "access_token_hash" bytea NULL, ADD
CONSTRAINT "tickets_customer_id_fkey" FOREIGN KEY ("customer_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE RESTRICT;
-- Create index "tickets_access_token_hash_key" to table: "tickets"
CREATE UNIQUE INDEX "tickets_access_token_hash_key" ON "tickets" ("access_token_hash");
-- Create index "tickets_customer_id_idx" to table: "tickets"
CREATE INDEX "tickets_customer_id_idx" ON "tickets" ("customer_id", "created_at", "id");
