-- Purpose: indexes of the session history and the admins' user list (newest first, role, name/email search), and at most one active screen share per session (status active or ended)
-- Reversible: Yes
-- Rollback:
--   DROP INDEX "users_role_idx";
--   DROP INDEX "users_name_trgm_idx";
--   DROP INDEX "users_email_trgm_idx";
--   DROP INDEX "users_created_at_idx";
--   DROP INDEX "sessions_created_at_idx";
--   DROP INDEX "screen_share_sessions_one_active_key";
--   ALTER TABLE "screen_share_sessions" DROP CONSTRAINT "screen_share_sessions_status_check";

-- Modify "screen_share_sessions" table
ALTER TABLE "screen_share_sessions" ADD CONSTRAINT "screen_share_sessions_status_check" CHECK ((status)::text = ANY (ARRAY[('active'::character varying)::text, ('ended'::character varying)::text]));
-- Create index "screen_share_sessions_one_active_key" to table: "screen_share_sessions"
CREATE UNIQUE INDEX "screen_share_sessions_one_active_key" ON "screen_share_sessions" ("session_id") WHERE ((status)::text = 'active'::text);
-- Create index "sessions_created_at_idx" to table: "sessions"
CREATE INDEX "sessions_created_at_idx" ON "sessions" ("created_at", "id");
-- Create index "users_created_at_idx" to table: "users"
CREATE INDEX "users_created_at_idx" ON "users" ("created_at", "id");
-- Create index "users_email_trgm_idx" to table: "users"
CREATE INDEX "users_email_trgm_idx" ON "users" USING gin ("email" gin_trgm_ops);
-- Create index "users_name_trgm_idx" to table: "users"
CREATE INDEX "users_name_trgm_idx" ON "users" USING gin ("name" gin_trgm_ops);
-- Create index "users_role_idx" to table: "users"
CREATE INDEX "users_role_idx" ON "users" ("role", "created_at", "id");
