-- Purpose: enable pg_trgm for the trigram index on tickets.description (written by hand: Atlas's open-source library cannot manage extensions)
-- Reversible: Yes
-- Rollback:
--   DROP EXTENSION IF EXISTS pg_trgm;

CREATE EXTENSION IF NOT EXISTS pg_trgm;
