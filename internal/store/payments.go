package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/savvysolve/api/models"
)

// SetPaymentInfo writes a session's payment (sessions.payment_info).
func SetPaymentInfo(ctx context.Context, db DB, sessionID string, p *models.PaymentInfo) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = db.NewUpdate().
		Model((*models.Session)(nil)).
		Set("payment_info = ?::jsonb", string(b)).
		Set("updated_at = now()").
		Where("id = ?", sessionID).
		Exec(ctx)
	return mapErr(err, "session")
}

// SessionIDByIntent returns the id of the session whose payment is the
// Stripe PaymentIntent intentID (served by sessions_payment_intent_key).
func SessionIDByIntent(ctx context.Context, db DB, intentID string) (string, error) {
	var id string
	err := db.NewSelect().
		Model((*models.Session)(nil)).
		ColumnExpr("ss.id::text").
		Where("(ss.payment_info ->> 'intentId') = ?", intentID).
		Scan(ctx, &id)
	return id, mapErr(err, "session")
}

// EndedSessionsOfTicket returns the ended sessions of a ticket, oldest first;
// with lock, their rows stay locked until the transaction ends.
func EndedSessionsOfTicket(ctx context.Context, db DB, ticketID string, lock bool) ([]*models.Session, error) {
	var ss []*models.Session
	q := db.NewSelect().
		Model(&ss).
		Where("ss.ticket_id = ? AND ss.ended_at IS NOT NULL", ticketID).
		OrderExpr("ss.created_at, ss.id")
	if lock {
		q = q.For("UPDATE")
	}
	return ss, mapErr(q.Scan(ctx), "session")
}

// SetStripeCustomerID keeps a user's Stripe customer, unless the user already
// has one: the one kept is returned, so concurrent creators agree on it.
func SetStripeCustomerID(ctx context.Context, db DB, userID, customerID string) (string, error) {
	var kept string
	err := db.NewRaw(`
UPDATE users SET stripe_customer_id = ?, updated_at = now()
WHERE id = ? AND stripe_customer_id IS NULL
RETURNING stripe_customer_id`, customerID, userID).Scan(ctx, &kept)
	if errors.Is(err, sql.ErrNoRows) { // set before: read it
		err = db.NewSelect().Model((*models.User)(nil)).Column("stripe_customer_id").Where("id = ?", userID).Scan(ctx, &kept)
		return kept, mapErr(err, "user")
	}
	if err != nil {
		return kept, mapErr(err, "user")
	}
	return kept, usersChanged(ctx, db, userID)
}

// RemoveCompletedSession takes a refunded session and its earnings out of a
// solver's completedSessions and totalEarningsCents (AddCompletedSession's reverse).
func RemoveCompletedSession(ctx context.Context, db DB, solverID string, earnings int) error {
	_, err := db.NewUpdate().
		Model((*models.Solver)(nil)).
		Set(`stats = stats || jsonb_build_object(
			'completedSessions', greatest(coalesce((stats->>'completedSessions')::int, 0) - 1, 0),
			'totalEarningsCents', coalesce((stats->>'totalEarningsCents')::bigint, 0) - ?)`, earnings).
		Set("updated_at = now()").
		Where("id = ?", solverID).
		Exec(ctx)
	return mapErr(err, "solver")
}
