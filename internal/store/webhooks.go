package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/savvysolve/api/models"
)

// Querier is a pgx transaction (or pool). Storing a webhook delivery runs on
// one because it must share its transaction with River's job insert, which
// takes a pgx.Tx: the delivery and its job commit together or not at all.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// WebhookDelivery is a verified webhook delivery to store.
type WebhookDelivery struct {
	Source     string // models.SourceClerk or models.SourceTelnyx
	DeliveryID string // svix-id, or Telnyx's data.id
	EventType  string
	SubjectID  *string    // the Clerk user, the Telnyx call or message
	OccurredAt *time.Time // when the provider says it happened
	Payload    []byte     // the body, as signed (JSON)
	// Processed stores the delivery as already applied: an event type with
	// nothing to apply is kept (nothing from a webhook is lost) but needs no job.
	Processed bool
}

// InsertWebhookEvent stores d once: a delivery whose (source, delivery id) is
// already stored is left alone, and inserted is false.
func InsertWebhookEvent(ctx context.Context, q Querier, d WebhookDelivery) (id string, inserted bool, err error) {
	err = q.QueryRow(ctx, `
INSERT INTO webhook_events (source, delivery_id, event_type, subject_id, occurred_at, payload, processed_at)
VALUES ($1, $2, $3, $4, $5, $6::jsonb, CASE WHEN $7::bool THEN now() END)
ON CONFLICT (source, delivery_id) DO NOTHING
RETURNING id::text`,
		d.Source, d.DeliveryID, d.EventType, d.SubjectID, d.OccurredAt, string(d.Payload), d.Processed).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, mapErr(err, "webhook event")
	}
	return id, true, nil
}

// WebhookEventForUpdate returns a stored delivery and locks it until the
// transaction ends, so two runs of its job cannot apply it concurrently.
func WebhookEventForUpdate(ctx context.Context, db DB, id string) (*models.WebhookEvent, error) {
	e := new(models.WebhookEvent)
	if !ValidID(id) {
		return nil, notFound("webhook event")
	}
	err := db.NewSelect().Model(e).Where("we.id = ?", id).For("UPDATE").Scan(ctx)
	return e, mapErr(err, "webhook event")
}

// MarkWebhookEventProcessed records that a delivery was applied.
func MarkWebhookEventProcessed(ctx context.Context, db DB, id string) error {
	_, err := db.NewUpdate().
		Model((*models.WebhookEvent)(nil)).
		Set("processed_at = now()").
		Where("id = ?", id).
		Exec(ctx)
	return mapErr(err, "webhook event")
}

// LockSubject serialises, until the transaction ends, the transactions that
// apply events about the same subject (a Clerk user): each then sees what the
// one before it committed.
func LockSubject(ctx context.Context, db DB, source, subjectID string) error {
	_, err := db.NewRaw("SELECT pg_advisory_xact_lock(hashtextextended(?, 0))", source+":"+subjectID).Exec(ctx)
	return mapErr(err, "webhook event")
}

// NewerEventApplied reports whether an event about e's subject that happened
// after e was already applied: e then comes too late to change anything.
func NewerEventApplied(ctx context.Context, db DB, e *models.WebhookEvent) (bool, error) {
	if e.SubjectID == nil || e.OccurredAt == nil {
		return false, nil
	}
	ok, err := db.NewSelect().
		Model((*models.WebhookEvent)(nil)).
		Where("we.source = ? AND we.subject_id = ? AND we.id <> ?", e.Source, *e.SubjectID, e.ID).
		Where("we.processed_at IS NOT NULL AND we.occurred_at > ?", *e.OccurredAt).
		Exists(ctx)
	return ok, mapErr(err, "webhook event")
}

// RedactWebhookPayloads empties the stored payloads of a subject's events
// (after its personal data was removed, the copies in webhook payloads go too).
func RedactWebhookPayloads(ctx context.Context, db DB, source, subjectID string) error {
	_, err := db.NewUpdate().
		Model((*models.WebhookEvent)(nil)).
		Set(`payload = '{"redacted": true}'::jsonb`).
		Where("source = ? AND subject_id = ?", source, subjectID).
		Exec(ctx)
	return mapErr(err, "webhook event")
}

// notFound is NOT_FOUND for kind, as mapErr reports a missing row.
func notFound(kind string) error { return mapErr(sql.ErrNoRows, kind) }

// EventApplied reports whether an event of eventType about the subject was applied.
func EventApplied(ctx context.Context, db DB, source, subjectID, eventType string) (bool, error) {
	ok, err := db.NewSelect().
		Model((*models.WebhookEvent)(nil)).
		Where("we.source = ? AND we.subject_id = ? AND we.event_type = ?", source, subjectID, eventType).
		Where("we.processed_at IS NOT NULL").
		Exists(ctx)
	return ok, mapErr(err, "webhook event")
}
