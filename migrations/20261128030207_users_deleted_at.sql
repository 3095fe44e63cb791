-- Purpose: users.deleted_at marks a user Clerk's user.deleted anonymised: its tokens are refused, and neither a token nor a webhook recreates it; users anonymised before (email deleted+<clerk_id>@invalid) are marked too
-- Reversible: Yes
-- Rollback:
--   ALTER TABLE "users" DROP COLUMN "deleted_at";

-- Modify "users" table
ALTER TABLE "users" ADD COLUMN "deleted_at" timestamptz NULL;
-- Mark the users anonymised before the column existed
UPDATE "users" SET "deleted_at" = "updated_at" WHERE "email" = 'deleted+' || "clerk_id" || '@invalid';
