package desk

// Payments: the rules of what a session's customer pays, through Stripe.
//
//   - Without a Stripe key (payments off) nothing is billed: every
//     Session.payment is UNBILLED, and nothing here calls Stripe.
//   - endSession never calls Stripe: in its transaction the session's payment
//     becomes REQUIRES_PAYMENT for its total and the charge job is enqueued;
//     the job (ChargeSession) creates the PaymentIntent after the commit, with
//     retries, so a Stripe outage never fails endSession.
//   - A signed-in customer pays as a Stripe customer created once
//     (users.stripe_customer_id); a guest with the receipt email of the
//     ticket's customerInfo.
//   - Stripe's webhooks move the payment on (ApplyPaymentEvent), each
//     delivery once; an event older than the last applied does not undo it,
//     and nothing leaves SUCCEEDED but a refund, nor REFUNDED at all.
//   - refundTicket refunds a SUCCEEDED payment through Stripe; an unpaid one
//     has its PaymentIntent cancelled, so it cannot be paid any more. Either
//     way the payment becomes REFUNDED and the session leaves the solver's
//     completedSessions and totalEarningsCents, in the same transaction.

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v82"
	"github.com/uptrace/bun"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/events"
	"github.com/savvysolve/api/internal/payments"
	"github.com/savvysolve/api/internal/pricing"
	"github.com/savvysolve/api/internal/store"
	"github.com/savvysolve/api/models"
)

// Queue runs the payment work that must wait for a commit. *jobs.Runner is one.
type Queue interface {
	// EnqueueChargeTx adds, inside tx, the job that creates the PaymentIntent
	// of the ended session sessionID: the job exists exactly when the end
	// commits, and runs only after it.
	EnqueueChargeTx(ctx context.Context, tx bun.Tx, sessionID string) error
}

// billing is what the desk needs for payments; the zero value is "payments off".
type billing struct {
	pay   *payments.Client
	queue Queue
	log   *slog.Logger
}

// Option configures a Desk.
type Option func(*Desk)

// WithPayments turns payments on: pay talks to Stripe, queue runs the charge
// jobs, log hears of Stripe failures. A nil pay (no STRIPE_SECRET_KEY) or
// queue leaves payments off.
func WithPayments(pay *payments.Client, queue Queue, log *slog.Logger) Option {
	return func(d *Desk) {
		if log == nil {
			log = slog.Default()
		}
		d.billing = billing{pay: pay, queue: queue, log: log}
	}
}

// paymentsOn reports whether sessions are billed.
func (b billing) paymentsOn() bool { return b.pay.Enabled() && b.queue != nil }

// Payment is a session's payment as a viewer sees it (GraphQL Payment).
type Payment struct {
	Status      models.PaymentStatus
	AmountCents int
	Currency    string
	// ClientSecret is set for the session's customer only, while the payment
	// waits for them (CanSeeClientSecret).
	ClientSecret *string
	PaidAt       *time.Time
	RefundedAt   *time.Time
}

// CanSeePaymentOf: a session's payment is for its customer, its solver and
// admins: those who may see the session.
func CanSeePaymentOf(v auth.Viewer, s *models.Session, t *models.Ticket) bool {
	return CanSeeSession(v, s, t)
}

// CanSeeClientSecret: the PaymentIntent's client secret lets its holder pay,
// so only the session's customer (by account or ticket token) sees it, and
// only while the payment is REQUIRES_PAYMENT.
func CanSeeClientSecret(v auth.Viewer, t *models.Ticket, p *models.PaymentInfo) bool {
	return isCustomer(v, t) && p.Status == models.PaymentRequiresPayment && p.ClientSecret != ""
}

// SessionPayment is the payment of session s (of ticket t) as v sees it; nil
// when v may not see it. Without payments, or for a session never billed, it
// is UNBILLED (amountCents: the total once the session ended).
func (d *Desk) SessionPayment(v auth.Viewer, s *models.Session, t *models.Ticket) *Payment {
	if !CanSeePaymentOf(v, s, t) {
		return nil
	}
	p := &Payment{Status: models.PaymentUnbilled, Currency: pricing.Currency}
	if s.Pricing != nil {
		p.Currency = s.Pricing.Currency
		if s.EndedAt != nil && s.Pricing.TotalCents != nil {
			p.AmountCents = *s.Pricing.TotalCents
		}
	}
	info := s.PaymentInfo
	if !d.pay.Enabled() || info == nil {
		return p
	}
	p.Status, p.AmountCents, p.Currency = info.Status, info.AmountCents, info.Currency
	p.PaidAt, p.RefundedAt = info.PaidAt, info.RefundedAt
	if CanSeeClientSecret(v, t, info) {
		secret := info.ClientSecret
		p.ClientSecret = &secret
	}
	return p
}

// bill runs inside EndSession's transaction, after the session's total is
// set: the session now owes its total (REQUIRES_PAYMENT, no client secret
// yet) and the charge job is enqueued in the same transaction. No Stripe call
// happens here.
func (d *Desk) bill(ctx context.Context, tx bun.Tx, s *models.Session) error {
	if !d.paymentsOn() || s.Pricing == nil || s.Pricing.TotalCents == nil {
		return nil
	}
	s.PaymentInfo = &models.PaymentInfo{
		Status: models.PaymentRequiresPayment, AmountCents: *s.Pricing.TotalCents, Currency: s.Pricing.Currency,
	}
	if err := store.SetPaymentInfo(ctx, tx, s.ID, s.PaymentInfo); err != nil {
		return err
	}
	// The session's end event (EndSession's) announces the new payment too.
	return d.queue.EnqueueChargeTx(ctx, tx, s.ID)
}

// ErrPaymentsOff: a charge job ran on a server without STRIPE_SECRET_KEY.
var ErrPaymentsOff = errors.New("payments are not configured (STRIPE_SECRET_KEY)")

// ChargeSession creates the PaymentIntent of an ended session and keeps it
// (with its client secret) in the session's payment. The charge job runs it
// after endSession commits; it is idempotent: the intent's idempotency key is
// the session id, a payment that already has its intent is left alone, and
// one refunded meanwhile gets its new intent cancelled. Errors are Stripe's
// or the database's: the job retries them (payments.Permanent tells which
// will not go away).
func (d *Desk) ChargeSession(ctx context.Context, sessionID string) error {
	if !d.pay.Enabled() {
		return ErrPaymentsOff
	}
	s, err := store.SessionByID(ctx, d.db, sessionID, false)
	if err != nil {
		return err
	}
	info := s.PaymentInfo
	if info == nil || info.IntentID != "" || info.Status != models.PaymentRequiresPayment {
		return nil // charged already, or refunded (waived) before the job ran
	}
	t, err := store.TicketByID(ctx, d.db, s.TicketID, false)
	if err != nil {
		return err
	}
	ch := payments.Charge{SessionID: s.ID, TicketID: t.ID, AmountCents: info.AmountCents, Currency: info.Currency}
	switch {
	case t.CustomerID != nil:
		if ch.CustomerID, err = d.stripeCustomer(ctx, *t.CustomerID); err != nil {
			return err
		}
	case t.CustomerInfo.Email != nil:
		ch.ReceiptEmail = *t.CustomerInfo.Email
	}
	intent, err := d.pay.CreateIntent(ctx, ch)
	if err != nil {
		return err
	}
	return d.tx(ctx, func(tx bun.Tx) error {
		s, err := store.SessionByID(ctx, tx, sessionID, true)
		if err != nil {
			return err
		}
		info := s.PaymentInfo
		if info == nil || info.IntentID != "" {
			return nil // stored by another run (the same intent: same idempotency key)
		}
		info.IntentID, info.CustomerID = intent.ID, ch.CustomerID
		if info.Status != models.PaymentRequiresPayment {
			// Refunded while the intent was being created: it must not stay payable.
			if err := d.pay.CancelIntent(ctx, intent.ID, s.ID); err != nil {
				return err
			}
			return store.SetPaymentInfo(ctx, tx, s.ID, info)
		}
		info.ClientSecret = intent.ClientSecret
		info.Status = intentStatus(intent.Status)
		if err := store.SetPaymentInfo(ctx, tx, s.ID, info); err != nil {
			return err
		}
		return events.Publish(ctx, tx, events.Event{Kind: events.Session, ID: s.ID})
	})
}

// stripeCustomer returns the Stripe customer of user userID, creating it the
// first time (idempotency key: the user id) and keeping it in
// users.stripe_customer_id. Concurrent first charges of one user (two
// sessions ending together) take turns on a lock per user, so Stripe is asked
// once.
func (d *Desk) stripeCustomer(ctx context.Context, userID string) (string, error) {
	u, err := store.UserByID(ctx, d.db, userID, false)
	if err != nil {
		return "", err
	}
	if u.StripeCustomerID != nil && *u.StripeCustomerID != "" {
		return *u.StripeCustomerID, nil
	}
	var id string
	err = d.tx(ctx, func(tx bun.Tx) error {
		if err := store.LockSubject(ctx, tx, "stripe_customer", userID); err != nil {
			return err
		}
		u, err := store.UserByID(ctx, tx, userID, false) // as the lock's previous holder left it
		if err != nil {
			return err
		}
		if u.StripeCustomerID != nil && *u.StripeCustomerID != "" {
			id = *u.StripeCustomerID
			return nil
		}
		c := payments.Customer{UserID: u.ID, Email: u.Email}
		if strings.HasSuffix(c.Email, "@invalid") { // anonymised (Clerk user.deleted): no address
			c.Email = ""
		}
		if u.Name != nil {
			c.Name = *u.Name
		}
		created, err := d.pay.CreateCustomer(ctx, c)
		if err != nil {
			return err
		}
		id, err = store.SetStripeCustomerID(ctx, tx, u.ID, created)
		return err
	})
	return id, err
}

// intentStatus is the payment status of a PaymentIntent's status.
func intentStatus(s stripe.PaymentIntentStatus) models.PaymentStatus {
	switch s {
	case stripe.PaymentIntentStatusProcessing:
		return models.PaymentProcessing
	case stripe.PaymentIntentStatusSucceeded:
		return models.PaymentSucceeded
	case stripe.PaymentIntentStatusCanceled:
		return models.PaymentFailed
	}
	return models.PaymentRequiresPayment // requires_payment_method, _confirmation, _action, _capture
}

// PaymentEventKind is what a Stripe event says about a payment.
type PaymentEventKind string

// The Stripe events applied to payments.
const (
	IntentProcessing PaymentEventKind = "payment_intent.processing"
	IntentSucceeded  PaymentEventKind = "payment_intent.succeeded"
	IntentFailed     PaymentEventKind = "payment_intent.payment_failed"
	ChargeRefunded   PaymentEventKind = "charge.refunded"
)

// PaymentEvent is a verified Stripe event about one of our PaymentIntents.
type PaymentEvent struct {
	Kind     PaymentEventKind
	IntentID string
	// SessionID is the intent's metadata.session_id, when the event carries it.
	SessionID string
	// At is when Stripe created the event.
	At time.Time
	// FailureMessage is the intent's last_payment_error.message (IntentFailed).
	FailureMessage string
	// Refunded tells that the charge is refunded in full; RefundedCents is
	// how much is refunded so far (ChargeRefunded).
	Refunded      bool
	RefundedCents int
}

// ErrIntentNotStored: the event's intent names one of our sessions, which
// does not show the intent yet (its charge job has not committed): retry.
var ErrIntentNotStored = errors.New("the payment intent is not stored on its session yet")

// stripeRefundReason is the status reason of a ticket refunded from Stripe's side.
const stripeRefundReason = "refunded through Stripe"

// ApplyPaymentEvent applies a Stripe event to the payment it is about, inside
// tx (the webhook job's, which marks the delivery applied in the same
// transaction). applied is false when the event changed nothing: not one of
// our intents, stale, or a move the rules refuse. A full refund made in
// Stripe's dashboard refunds the ticket too, and takes the session out of the
// solver's stats, as refundTicket does.
func (d *Desk) ApplyPaymentEvent(ctx context.Context, tx bun.Tx, ev PaymentEvent) (applied bool, err error) {
	sid, err := store.SessionIDByIntent(ctx, tx, ev.IntentID)
	if apperr.CodeOf(err) == apperr.NotFound {
		if ev.SessionID == "" || !store.ValidID(ev.SessionID) {
			return false, nil // not a payment of ours
		}
		s, err := store.SessionByID(ctx, tx, ev.SessionID, false)
		if apperr.CodeOf(err) == apperr.NotFound {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if s.PaymentInfo != nil && s.PaymentInfo.IntentID == "" && s.PaymentInfo.Status == models.PaymentRequiresPayment {
			return false, ErrIntentNotStored
		}
		return false, nil // the session has another intent (or none will come)
	}
	if err != nil {
		return false, err
	}
	// Locks in refundTicket's order, ticket first, so the two never deadlock.
	s, err := store.SessionByID(ctx, tx, sid, false)
	if err != nil {
		return false, err
	}
	t, err := store.TicketByID(ctx, tx, s.TicketID, true)
	if err != nil {
		return false, err
	}
	if s, err = store.SessionByID(ctx, tx, sid, true); err != nil {
		return false, err
	}
	info := s.PaymentInfo
	if !nextPayment(info, ev) {
		return false, nil
	}
	if err := store.SetPaymentInfo(ctx, tx, s.ID, info); err != nil {
		return false, err
	}
	if err := events.Publish(ctx, tx, events.Event{Kind: events.Session, ID: s.ID}); err != nil {
		return false, err
	}
	if info.Status == models.PaymentRefunded && t.Status == models.TicketCompleted {
		if err := d.refundTicketTx(ctx, tx, t, ptr(stripeRefundReason)); err != nil {
			return false, err
		}
	}
	return true, nil
}

func ptr[T any](v T) *T { return &v }

// nextPayment moves info by ev, in place, and reports whether it changed.
// Events may arrive in any order: one created before the newest applied
// event changes nothing (a refund excepted: it only ever moves forward), a
// SUCCEEDED payment moves only to REFUNDED, and a REFUNDED one never moves.
func nextPayment(info *models.PaymentInfo, ev PaymentEvent) bool {
	if info == nil || info.Status == models.PaymentRefunded || info.Status == models.PaymentUnbilled {
		return false
	}
	if ev.Kind != ChargeRefunded && info.EventAt != nil && ev.At.Before(*info.EventAt) {
		return false
	}
	at := ev.At
	was := *info
	switch ev.Kind {
	case IntentProcessing:
		if info.Status == models.PaymentRequiresPayment || info.Status == models.PaymentFailed {
			info.Status = models.PaymentProcessing
		}
	case IntentSucceeded:
		if info.Status != models.PaymentSucceeded {
			info.Status, info.PaidAt, info.FailureMessage = models.PaymentSucceeded, &at, ""
		}
	case IntentFailed:
		if info.Status != models.PaymentSucceeded {
			info.Status, info.FailureMessage = models.PaymentFailed, ev.FailureMessage
		}
	case ChargeRefunded:
		info.RefundedCents = max(info.RefundedCents, ev.RefundedCents)
		if ev.Refunded {
			info.Status, info.RefundedAt = models.PaymentRefunded, &at
		}
	default:
		return false
	}
	if *info == was {
		return false
	}
	if info.EventAt == nil || at.After(*info.EventAt) {
		info.EventAt = &at
	}
	return true
}

// stripeRefused answers a refund (or cancellation) that Stripe did not make;
// nothing changed. An outage is UNAVAILABLE (try again); a refusal that
// retrying cannot change is CONFLICT, with Stripe's error code.
func stripeRefused(err error) error {
	if payments.Permanent(err) {
		return apperr.New(apperr.Conflict, "Stripe refused the refund (%s); nothing was changed", payments.Code(err))
	}
	return apperr.New(apperr.Unavailable, "Stripe could not be reached for the refund; nothing was changed, try again shortly")
}

// RefundTicket refunds a COMPLETED ticket. Admins only. Its
// sessions' payments are refunded through Stripe when SUCCEEDED, cancelled
// when unpaid, and the sessions leave the solver's stats, in one transaction
// (the Stripe calls happen inside it, under the ticket's lock, so a failed
// call changes nothing and a repeated one, with the same idempotency key,
// refunds once).
func (d *Desk) RefundTicket(ctx context.Context, id string, reason *string) (*models.Ticket, error) {
	v := auth.ViewerFrom(ctx)
	if err := signedIn(v); err != nil {
		return nil, err
	}
	if err := checkReason(reason); err != nil {
		return nil, err
	}
	var out *models.Ticket
	err := d.tx(ctx, func(tx bun.Tx) error {
		t, err := lockTicket(ctx, tx, v, id)
		if err != nil {
			return err
		}
		if !v.IsAdmin() {
			return apperr.New(apperr.Forbidden, "only admins may refund")
		}
		if t.Status != models.TicketCompleted {
			return apperr.New(apperr.Conflict, "a %s ticket cannot become REFUNDED", strings.ToUpper(string(t.Status)))
		}
		if err := d.refundTicketTx(ctx, tx, t, reason); err != nil {
			return err
		}
		out, err = store.TicketByID(ctx, tx, id, false)
		return err
	})
	return out, err
}

// refundTicketTx refunds the payments of a COMPLETED ticket t (locked by the
// caller), takes its sessions out of their solvers' stats and moves the
// ticket to REFUNDED, publishing the changes.
func (d *Desk) refundTicketTx(ctx context.Context, tx bun.Tx, t *models.Ticket, reason *string) error {
	sessions, err := store.EndedSessionsOfTicket(ctx, tx, t.ID, true)
	if err != nil {
		return err
	}
	for _, s := range sessions {
		if err := d.refundPayment(ctx, tx, s); err != nil {
			return err
		}
		if s.Earnings != nil {
			if err := store.RemoveCompletedSession(ctx, tx, s.SolverID, *s.Earnings); err != nil {
				return err
			}
		}
	}
	if _, ok, err := store.SetTicketStatus(ctx, tx, t.ID, []models.TicketStatus{models.TicketCompleted}, models.TicketRefunded, reason); err != nil {
		return err
	} else if !ok {
		return apperr.New(apperr.Conflict, "the ticket is no longer COMPLETED")
	}
	return events.Publish(ctx, tx, events.Event{Kind: events.Ticket, ID: t.ID, Status: string(models.TicketRefunded)})
}

// refundPayment refunds (SUCCEEDED) or cancels (unpaid) the payment of s
// (locked by the caller) and marks it REFUNDED. A payment still PROCESSING
// cannot be refunded yet: CONFLICT.
func (d *Desk) refundPayment(ctx context.Context, tx bun.Tx, s *models.Session) error {
	info := s.PaymentInfo
	if !d.pay.Enabled() || info == nil {
		return nil
	}
	switch info.Status {
	case models.PaymentRefunded, models.PaymentUnbilled:
		return nil
	case models.PaymentProcessing:
		return apperr.New(apperr.Conflict, "the payment is still processing: refund it once it succeeded")
	case models.PaymentSucceeded:
		id, err := d.pay.Refund(ctx, info.IntentID, s.ID)
		if err != nil {
			d.log.ErrorContext(ctx, "refund through Stripe failed; the ticket stays COMPLETED", "session", s.ID, "intent", info.IntentID, "err", err)
			return stripeRefused(err)
		}
		info.RefundID, info.RefundedCents = id, info.AmountCents
	default: // REQUIRES_PAYMENT, FAILED: nothing was paid; the intent must not stay payable
		if info.IntentID != "" {
			if err := d.pay.CancelIntent(ctx, info.IntentID, s.ID); err != nil {
				d.log.ErrorContext(ctx, "cancelling the payment intent failed; the ticket stays COMPLETED", "session", s.ID, "intent", info.IntentID, "err", err)
				return stripeRefused(err)
			}
		}
	}
	now := time.Now()
	info.Status, info.RefundedAt, info.ClientSecret = models.PaymentRefunded, &now, ""
	if err := store.SetPaymentInfo(ctx, tx, s.ID, info); err != nil {
		return err
	}
	return events.Publish(ctx, tx, events.Event{Kind: events.Session, ID: s.ID})
}
