package webhooks

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v82"
	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/savvysolve/api/internal/store"
	"github.com/savvysolve/api/models"
)

// The Stripe event types applied to payments; other verified deliveries are
// stored as they come, already processed.
const (
	StripeIntentProcessing = "payment_intent.processing"
	StripeIntentSucceeded  = "payment_intent.succeeded"
	StripeIntentFailed     = "payment_intent.payment_failed"
	StripeChargeRefunded   = "charge.refunded"
)

// StripeHandles reports whether a Stripe event type has something to apply.
func StripeHandles(eventType string) bool {
	switch eventType {
	case StripeIntentProcessing, StripeIntentSucceeded, StripeIntentFailed, StripeChargeRefunded:
		return true
	}
	return false
}

// serveStripe verifies a delivery with stripe-go's webhook package: the
// Stripe-Signature HMAC and a timestamp at most 300 s old (the library's
// tolerance, as Svix's for Clerk). The API-version check of ConstructEvent is
// off: Stripe shapes each event by the API version of the webhook endpoint
// (or the account's default), which need not be the version this stripe-go
// release was generated for ("basil"); with the check on, a valid delivery
// from such an endpoint would be refused and retried for days. What the
// server reads of an event (ParseStripe) has the same shape in every version.
func (h *handler) serveStripe(w http.ResponseWriter, r *http.Request) {
	if h.stripe == "" {
		http.Error(w, "stripe webhooks are not configured", http.StatusServiceUnavailable)
		return
	}
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	ev, err := webhook.ConstructEventWithOptions(body, r.Header.Get("Stripe-Signature"), h.stripe,
		webhook.ConstructEventOptions{IgnoreAPIVersionMismatch: true})
	if err != nil {
		h.refuse(w, r, "stripe", err.Error())
		return
	}
	if !sameTrain(ev.APIVersion, stripe.APIVersion) {
		h.versionOnce.Do(func() {
			h.log.Warn("stripe webhook: the endpoint's API version differs from the library's; accepted (only version-stable fields are read)",
				"event_api_version", ev.APIVersion, "library_api_version", stripe.APIVersion)
		})
	}
	se, err := ParseStripe(body)
	if err != nil {
		h.log.Warn("webhook: signed but unreadable", "source", "stripe", "delivery", ev.ID, "err", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	d := store.WebhookDelivery{
		Source: models.SourceStripe, DeliveryID: se.ID, EventType: se.Type,
		OccurredAt: &se.Created, Payload: body, Processed: !StripeHandles(se.Type),
	}
	if se.IntentID != "" {
		d.SubjectID = &se.IntentID
	}
	h.store(w, r, d)
}

// sameTrain reports whether two Stripe API versions ("2025-08-27.basil")
// belong to the same release train.
func sameTrain(a, b string) bool {
	_, ta, okA := strings.Cut(a, ".")
	_, tb, okB := strings.Cut(b, ".")
	return okA && okB && ta == tb
}

// StripeEvent is what the server reads of a Stripe event.
type StripeEvent struct {
	ID      string // evt_...: the delivery id (Stripe retries keep it)
	Type    string
	Created time.Time
	// IntentID is the PaymentIntent the event is about: the object of a
	// payment_intent.* event, the charge's payment_intent of charge.refunded.
	IntentID string
	// SessionID is the intent's metadata.session_id (payment_intent.* only).
	SessionID string
	// FailureMessage is last_payment_error.message (payment_intent.payment_failed).
	FailureMessage string
	// Refunded and AmountRefunded are the charge's (charge.refunded).
	Refunded       bool
	AmountRefunded int64
}

// ParseStripe reads a Stripe event (its signature is checked by the handler):
// it needs an id, a type and, for the types applied, the object they name.
func ParseStripe(body []byte) (*StripeEvent, error) {
	var e stripe.Event
	if err := json.Unmarshal(body, &e); err != nil {
		return nil, errors.New("not a Stripe event: " + err.Error())
	}
	if e.ID == "" || e.Type == "" {
		return nil, errors.New("not a Stripe event: no id or type")
	}
	out := &StripeEvent{ID: e.ID, Type: string(e.Type), Created: time.Unix(e.Created, 0).UTC()}
	if !StripeHandles(out.Type) {
		return out, nil
	}
	if e.Data == nil || len(e.Data.Raw) == 0 {
		return nil, errors.New(out.Type + " without data.object")
	}
	switch out.Type {
	case StripeChargeRefunded:
		var c stripe.Charge
		if err := json.Unmarshal(e.Data.Raw, &c); err != nil {
			return nil, errors.New("charge.refunded: data.object is not a charge: " + err.Error())
		}
		if c.PaymentIntent != nil {
			out.IntentID = c.PaymentIntent.ID
		}
		out.Refunded, out.AmountRefunded = c.Refunded, c.AmountRefunded
	default:
		var pi stripe.PaymentIntent
		if err := json.Unmarshal(e.Data.Raw, &pi); err != nil {
			return nil, errors.New(out.Type + ": data.object is not a payment intent: " + err.Error())
		}
		out.IntentID, out.SessionID = pi.ID, pi.Metadata["session_id"]
		if pi.LastPaymentError != nil {
			out.FailureMessage = pi.LastPaymentError.Msg
		}
	}
	return out, nil
}
