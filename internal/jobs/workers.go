package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/riverqueue/river"
	"github.com/uptrace/bun"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/desk"
	"github.com/savvysolve/api/internal/store"
	"github.com/savvysolve/api/models"
)

// ClerkEventArgs is the job that applies a stored Clerk delivery.
type ClerkEventArgs struct {
	EventID string `json:"event_id"` // webhook_events.id
}

// Kind names the job in river_job.
func (ClerkEventArgs) Kind() string { return "clerk_event" }

// TelnyxEventArgs is the job that applies a stored Telnyx delivery.
type TelnyxEventArgs struct {
	EventID string `json:"event_id"` // webhook_events.id
}

// Kind names the job in river_job.
func (TelnyxEventArgs) Kind() string { return "telnyx_event" }

// applyEvent runs apply (a domain operation of package desk) on the stored
// event id in one transaction that holds the event's row lock, and marks the
// event processed in the same transaction: a job that runs twice (a retry
// after a lost completion, two workers) applies the event once. An event
// already processed is skipped; one the domain can never apply
// (desk.ErrUnappliable) ends the job at once.
func applyEvent(ctx context.Context, db *bun.DB, log *slog.Logger, id string,
	apply func(ctx context.Context, tx bun.Tx, e *models.WebhookEvent, payload []byte) error,
) error {
	return db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		e, err := store.WebhookEventForUpdate(ctx, tx, id)
		if apperr.CodeOf(err) == apperr.NotFound {
			return giveUp(ctx, log, id, fmt.Errorf("webhook event %s does not exist", id))
		}
		if err != nil {
			return err
		}
		if e.ProcessedAt != nil {
			return nil
		}
		payload, err := json.Marshal(e.Payload)
		if err != nil {
			return err
		}
		if err := apply(ctx, tx, e, payload); errors.Is(err, desk.ErrUnappliable) {
			return giveUp(ctx, log, e.ID, err)
		} else if err != nil {
			return err
		}
		return store.MarkWebhookEventProcessed(ctx, tx, e.ID)
	})
}

// giveUp ends a job that can never succeed (a payload that cannot be
// applied): no retries; the delivery stays unprocessed for a person to look at.
func giveUp(ctx context.Context, log *slog.Logger, eventID string, err error) error {
	log.ErrorContext(ctx, "webhook event cannot be applied; job cancelled, event kept unprocessed in webhook_events",
		"event", eventID, "err", err)
	return river.JobCancel(err)
}

// clerkWorker applies Clerk user events (desk.ApplyClerkEvent).
type clerkWorker struct {
	river.WorkerDefaults[ClerkEventArgs]
	db  *bun.DB
	log *slog.Logger
}

func (w *clerkWorker) Work(ctx context.Context, job *river.Job[ClerkEventArgs]) error {
	return applyEvent(ctx, w.db, w.log, job.Args.EventID, func(ctx context.Context, tx bun.Tx, e *models.WebhookEvent, payload []byte) error {
		return desk.ApplyClerkEvent(ctx, tx, w.log, e, payload)
	})
}

// telnyxWorker applies Telnyx call and message events (desk.ApplyTelnyxEvent).
type telnyxWorker struct {
	river.WorkerDefaults[TelnyxEventArgs]
	db  *bun.DB
	log *slog.Logger
}

func (w *telnyxWorker) Work(ctx context.Context, job *river.Job[TelnyxEventArgs]) error {
	final := job.Attempt >= job.MaxAttempts
	return applyEvent(ctx, w.db, w.log, job.Args.EventID, func(ctx context.Context, tx bun.Tx, e *models.WebhookEvent, payload []byte) error {
		return desk.ApplyTelnyxEvent(ctx, tx, w.log, e, payload, final)
	})
}
