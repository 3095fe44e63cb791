-- Purpose: find a session by its Stripe PaymentIntent (payment_info.intentId), once per intent, for Stripe webhooks
-- Reversible: Yes
-- Rollback:
--   DROP INDEX "sessions_payment_intent_key";

-- Create index "sessions_payment_intent_key" to table: "sessions"
CREATE UNIQUE INDEX "sessions_payment_intent_key" ON "sessions" (((payment_info ->> 'intentId'::text))) WHERE ((payment_info ->> 'intentId'::text) IS NOT NULL);
