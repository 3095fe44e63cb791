// Package payments is the server's Stripe client (github.com/stripe/stripe-go):
// customers, PaymentIntents, refunds, cancellations. It holds no rule of its
// own (who pays what, and when, is decided in internal/desk) and keeps no
// global state: each Client carries its key and its backend, so tests point
// one at a fake Stripe served by the test (STRIPE_API_BASE).
//
// Every call that creates something sends an idempotency key derived from our
// own ids, so a call retried after a timeout or a crash (by the job queue, or
// by an admin repeating a refund) never charges, refunds or creates twice.
// The library's own network retries are off: retries belong to the job queue,
// which backs off over hours, and to the caller of a synchronous refund.
package payments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v82"
)

// Config is what the client needs.
type Config struct {
	// SecretKey is STRIPE_SECRET_KEY (sk_live_..., sk_test_...); empty: no client.
	SecretKey string
	// APIBase is STRIPE_API_BASE: where the API is ("" is Stripe's own).
	APIBase string
	// Timeout bounds one API call (0: 20 s).
	Timeout time.Duration
	Log     *slog.Logger
}

// Client talks to Stripe. A nil *Client is valid: payments are off.
type Client struct {
	sc *stripe.Client
}

// New returns a client, or nil when no secret key is configured.
func New(c Config) *Client {
	if c.SecretKey == "" {
		return nil
	}
	if c.Timeout <= 0 {
		c.Timeout = 20 * time.Second
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	bc := &stripe.BackendConfig{
		HTTPClient:        &http.Client{Timeout: c.Timeout},
		MaxNetworkRetries: stripe.Int64(0),
		LeveledLogger:     logger{c.Log},
	}
	if c.APIBase != "" {
		bc.URL = stripe.String(c.APIBase)
	}
	return &Client{sc: stripe.NewClient(c.SecretKey, stripe.WithBackends(stripe.NewBackendsWithConfig(bc)))}
}

// Enabled reports whether payments are configured.
func (c *Client) Enabled() bool { return c != nil }

var errOff = errors.New("payments: Stripe is not configured")

// Customer is who a Stripe customer is created for.
type Customer struct {
	UserID string // our users.id: the idempotency key and metadata
	Email  string // "" when the user has none
	Name   string
}

// CreateCustomer creates the Stripe customer of one of our users and returns
// its id (cus_...). The idempotency key is the user's id, so a retry within
// Stripe's 24 hours returns the same customer.
func (c *Client) CreateCustomer(ctx context.Context, cu Customer) (string, error) {
	if c == nil {
		return "", errOff
	}
	p := &stripe.CustomerCreateParams{}
	p.SetIdempotencyKey("customer-" + cu.UserID)
	if cu.Email != "" {
		p.Email = stripe.String(cu.Email)
	}
	if cu.Name != "" {
		p.Name = stripe.String(cu.Name)
	}
	p.AddMetadata("user_id", cu.UserID)
	out, err := c.sc.V1Customers.Create(ctx, p)
	if err != nil {
		return "", fmt.Errorf("stripe: create customer: %w", err)
	}
	return out.ID, nil
}

// Charge is the PaymentIntent to create for an ended session.
type Charge struct {
	SessionID   string // the idempotency key, and metadata
	TicketID    string // metadata
	AmountCents int
	Currency    string // ISO 4217, any case
	// CustomerID is the signed-in customer's Stripe customer; ReceiptEmail
	// where a guest's receipt goes. Either may be empty.
	CustomerID   string
	ReceiptEmail string
}

// Intent is a PaymentIntent as the server keeps it.
type Intent struct {
	ID           string
	ClientSecret string
	Status       stripe.PaymentIntentStatus
}

// CreateIntent creates the PaymentIntent of a session. Its idempotency key is
// the session id: however often the job runs, the session has one intent.
func (c *Client) CreateIntent(ctx context.Context, ch Charge) (*Intent, error) {
	if c == nil {
		return nil, errOff
	}
	p := &stripe.PaymentIntentCreateParams{
		Amount:                  stripe.Int64(int64(ch.AmountCents)),
		Currency:                stripe.String(strings.ToLower(ch.Currency)),
		AutomaticPaymentMethods: &stripe.PaymentIntentCreateAutomaticPaymentMethodsParams{Enabled: stripe.Bool(true)},
		Description:             stripe.String("SavvySolve session " + ch.SessionID),
	}
	p.SetIdempotencyKey(ch.SessionID)
	if ch.CustomerID != "" {
		p.Customer = stripe.String(ch.CustomerID)
	}
	if ch.ReceiptEmail != "" {
		p.ReceiptEmail = stripe.String(ch.ReceiptEmail)
	}
	p.AddMetadata("session_id", ch.SessionID)
	p.AddMetadata("ticket_id", ch.TicketID)
	pi, err := c.sc.V1PaymentIntents.Create(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("stripe: create payment intent: %w", err)
	}
	return &Intent{ID: pi.ID, ClientSecret: pi.ClientSecret, Status: pi.Status}, nil
}

// Refund refunds a PaymentIntent in full and returns the refund's id
// (re_...). The idempotency key names the session: repeating a refund that
// timed out returns the same refund.
func (c *Client) Refund(ctx context.Context, intentID, sessionID string) (string, error) {
	if c == nil {
		return "", errOff
	}
	p := &stripe.RefundCreateParams{PaymentIntent: stripe.String(intentID)}
	p.SetIdempotencyKey("refund-" + sessionID)
	p.AddMetadata("session_id", sessionID)
	r, err := c.sc.V1Refunds.Create(ctx, p)
	if err != nil {
		return "", fmt.Errorf("stripe: refund: %w", err)
	}
	return r.ID, nil
}

// CancelIntent cancels an unpaid PaymentIntent, so it can no longer be paid.
// One already canceled is not an error.
func (c *Client) CancelIntent(ctx context.Context, intentID, sessionID string) error {
	if c == nil {
		return errOff
	}
	p := &stripe.PaymentIntentCancelParams{}
	p.SetIdempotencyKey("cancel-" + sessionID)
	_, err := c.sc.V1PaymentIntents.Cancel(ctx, intentID, p)
	var se *stripe.Error
	if errors.As(err, &se) && se.Code == stripe.ErrorCodePaymentIntentUnexpectedState {
		return nil // canceled before, or paid meanwhile: the caller re-reads the state from webhooks
	}
	if err != nil {
		return fmt.Errorf("stripe: cancel payment intent: %w", err)
	}
	return nil
}

// Permanent reports whether a Stripe error will not go away by retrying the
// same request: a request Stripe refuses as invalid (400), a card or payment
// error (402), or something that does not exist (404). Outages (5xx, network
// errors), rate limits (429), idempotency and lock conflicts (409) and key
// problems (401, 403: an operator can fix the configuration) are worth retrying.
func Permanent(err error) bool {
	var se *stripe.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.HTTPStatusCode {
	case http.StatusBadRequest, http.StatusPaymentRequired, http.StatusNotFound:
		return true
	}
	return false
}

// Code is the code of a Stripe error (e.g. "charge_already_refunded"), or
// its type when it has none; "" for errors that are not Stripe's.
func Code(err error) string {
	var se *stripe.Error
	if !errors.As(err, &se) {
		return ""
	}
	if se.Code != "" {
		return string(se.Code)
	}
	return string(se.Type)
}

// logger routes stripe-go's log lines to slog: errors as warnings (the
// caller decides whether a failure is an error), the rest at debug level.
type logger struct{ l *slog.Logger }

func (l logger) Debugf(format string, v ...any) { l.l.Debug("stripe: " + fmt.Sprintf(format, v...)) }
func (l logger) Infof(format string, v ...any)  { l.l.Debug("stripe: " + fmt.Sprintf(format, v...)) }
func (l logger) Warnf(format string, v ...any)  { l.l.Warn("stripe: " + fmt.Sprintf(format, v...)) }
func (l logger) Errorf(format string, v ...any) { l.l.Warn("stripe: " + fmt.Sprintf(format, v...)) }
