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

// ClerkUser is a user as Clerk describes it.
type ClerkUser struct {
	ClerkID string
	Email   string
	Name    *string
	Phone   *string
}

// deletedEmail is the address an anonymised user keeps: unique per user, and
// in the reserved .invalid domain, so it can never reach anyone.
const deletedEmail = `'deleted+' || clerk_id || '@invalid'`

// UpsertClerkUser creates or updates the user with u's Clerk id (email, name,
// phone; the role stays). An anonymised user is never filled in again:
// applied is false then.
func UpsertClerkUser(ctx context.Context, db DB, u ClerkUser) (applied bool, err error) {
	res, err := db.NewRaw(`
INSERT INTO users AS u (clerk_id, email, name, phone) VALUES (?, ?, ?, ?)
ON CONFLICT (clerk_id) DO UPDATE
SET email = EXCLUDED.email, name = EXCLUDED.name, phone = EXCLUDED.phone, updated_at = now()
WHERE u.email <> 'deleted+' || u.clerk_id || '@invalid'`,
		u.ClerkID, u.Email, u.Name, u.Phone).Exec(ctx)
	if err != nil {
		return false, mapErr(err, "user")
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// AnonymiseUser removes a user's personal data and keeps the row, which
// tickets, sessions, messages and ratings refer to: the email becomes
// deleted+<clerk_id>@invalid, name and phone are cleared, the contact
// details on the tickets the user opened are replaced, and a solver profile
// loses its Google address and stops being active. found is false when no
// user has that Clerk id.
func AnonymiseUser(ctx context.Context, db DB, clerkID string) (found bool, err error) {
	var id string
	err = db.NewRaw(`
UPDATE users SET email = `+deletedEmail+`, name = NULL, phone = NULL, updated_at = now()
WHERE clerk_id = ?
RETURNING id::text`, clerkID).Scan(ctx, &id)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, mapErr(err, "user")
	}
	if _, err := db.NewRaw(`
UPDATE tickets SET customer_info = '{"name": "Deleted user", "email": null, "phone": null}'::jsonb, updated_at = now()
WHERE customer_id = ?`, id).Exec(ctx); err != nil {
		return true, mapErr(err, "ticket")
	}
	_, err = db.NewRaw(`
UPDATE solvers SET google_email = NULL,
  status = CASE WHEN status = 'active' THEN 'inactive'::solver_status ELSE status END, updated_at = now()
WHERE user_id = ?`, id).Exec(ctx)
	return true, mapErr(err, "solver")
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
