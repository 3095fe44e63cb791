package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/riverqueue/river"
	"github.com/uptrace/bun"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/desk"
	"github.com/savvysolve/api/internal/payments"
	"github.com/savvysolve/api/internal/webhooks"
	"github.com/savvysolve/api/models"
)

// ChargeSessionArgs is the job that creates the Stripe PaymentIntent of an
// ended session. endSession enqueues it in its own transaction.
type ChargeSessionArgs struct {
	SessionID string `json:"session_id"`
}

// Kind names the job in river_job.
func (ChargeSessionArgs) Kind() string { return "charge_session" }

// StripeEventArgs is the job that applies a stored Stripe delivery.
type StripeEventArgs struct {
	EventID string `json:"event_id"` // webhook_events.id
}

// Kind names the job in river_job.
func (StripeEventArgs) Kind() string { return "stripe_event" }

// chargeWorker runs desk.ChargeSession. A Stripe outage fails the attempt and
// River retries with backoff; an error that retrying cannot fix (Stripe
// refusing the request, payments switched off, the session gone) cancels the
// job, logged at ERROR: the session then stays REQUIRES_PAYMENT without a
// client secret, for a person to look at.
type chargeWorker struct {
	river.WorkerDefaults[ChargeSessionArgs]
	desk *desk.Desk
	log  *slog.Logger
}

func (w *chargeWorker) Work(ctx context.Context, job *river.Job[ChargeSessionArgs]) error {
	err := w.desk.ChargeSession(ctx, job.Args.SessionID)
	if err == nil {
		return nil
	}
	if errors.Is(err, desk.ErrPaymentsOff) || payments.Permanent(err) || apperr.CodeOf(err) == apperr.NotFound {
		w.log.ErrorContext(ctx, "the session's payment intent cannot be created; job cancelled, the session stays REQUIRES_PAYMENT without a client secret",
			"session", job.Args.SessionID, "err", err)
		return river.JobCancel(err)
	}
	return err
}

// stripeWorker applies Stripe's payment events to sessions' payments, each
// delivery once (applyEvent).
type stripeWorker struct {
	river.WorkerDefaults[StripeEventArgs]
	db   *bun.DB
	desk *desk.Desk
	log  *slog.Logger
}

func (w *stripeWorker) Work(ctx context.Context, job *river.Job[StripeEventArgs]) error {
	return applyEvent(ctx, w.db, w.log, job.Args.EventID, func(ctx context.Context, tx bun.Tx, e *models.WebhookEvent, payload []byte) error {
		ev, err := webhooks.ParseStripe(payload)
		if err != nil {
			return giveUp(ctx, w.log, e.ID, err)
		}
		if ev.IntentID == "" {
			return giveUp(ctx, w.log, e.ID, fmt.Errorf("%s names no payment intent", ev.Type))
		}
		applied, err := w.desk.ApplyPaymentEvent(ctx, tx, desk.PaymentEvent{
			Kind: desk.PaymentEventKind(ev.Type), IntentID: ev.IntentID, SessionID: ev.SessionID, At: ev.Created,
			FailureMessage: ev.FailureMessage, Refunded: ev.Refunded, RefundedCents: int(ev.AmountRefunded),
		})
		if err != nil {
			return err
		}
		if !applied {
			w.log.InfoContext(ctx, "stripe event changed nothing (not one of our payments, older than the last applied, or a move the rules refuse)",
				"event", ev.ID, "type", ev.Type, "intent", ev.IntentID)
		}
		return nil
	})
}
