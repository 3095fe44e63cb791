-- Purpose: Stripe payments: find a session by its PaymentIntent (payment_info.intentId, one session per intent) and accept webhook deliveries from Stripe
-- Reversible: Partial
-- Rollback:
--   ALTER TABLE "webhook_events" DROP CONSTRAINT "webhook_events_source_check", ADD CONSTRAINT "webhook_events_source_check" CHECK ((source)::text = ANY (ARRAY[('clerk'::character varying)::text, ('telnyx'::character varying)::text]));
--   DROP INDEX "sessions_payment_intent_key";

-- Create index "sessions_payment_intent_key" to table: "sessions"
CREATE UNIQUE INDEX "sessions_payment_intent_key" ON "sessions" (((payment_info ->> 'intentId'::text))) WHERE ((payment_info ->> 'intentId'::text) IS NOT NULL);
-- Modify "webhook_events" table
ALTER TABLE "webhook_events" DROP CONSTRAINT "webhook_events_source_check", ADD CONSTRAINT "webhook_events_source_check" CHECK ((source)::text = ANY (ARRAY[('clerk'::character varying)::text, ('telnyx'::character varying)::text, ('stripe'::character varying)::text]));
