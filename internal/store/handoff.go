package store

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/savvysolve/api/models"
)

// ReleaseTicket puts a CLAIMED ticket back in the queue: PENDING, without a
// solver, with reason (nil clears the last one). ok=false when it is not CLAIMED.
func ReleaseTicket(ctx context.Context, db DB, id string, reason *string) (*models.Ticket, bool, error) {
	t := new(models.Ticket)
	err := db.NewUpdate().
		Model(t).
		Set("status = 'pending'").
		Set("solver_id = NULL").
		Set("claimed_at = NULL").
		Set("status_reason = ?", reason).
		Set("updated_at = now()").
		Where("id = ? AND status = 'claimed'", id).
		Returning("*").
		Scan(ctx)
	return conditional(t, err)
}

// ReassignTicket gives a CLAIMED ticket to another solver (claimed now).
// ok=false when it is not CLAIMED.
func ReassignTicket(ctx context.Context, db DB, id, solverID string) (*models.Ticket, bool, error) {
	t := new(models.Ticket)
	err := db.NewUpdate().
		Model(t).
		Set("solver_id = ?", solverID).
		Set("claimed_at = now()").
		Set("updated_at = now()").
		Where("id = ? AND status = 'claimed'", id).
		Returning("*").
		Scan(ctx)
	return conditional(t, err)
}

// LinkTicket gives the guest ticket whose token has this hash to a customer
// account, in one conditional update. ok=false when no ticket without an
// account has this token (none has it, or it is linked already).
func LinkTicket(ctx context.Context, db DB, tokenHash []byte, customerID string) (*models.Ticket, bool, error) {
	t := new(models.Ticket)
	err := db.NewUpdate().
		Model(t).
		Set("customer_id = ?", customerID).
		Set("updated_at = now()").
		Where("access_token_hash = ? AND customer_id IS NULL", tokenHash).
		Returning("*").
		Scan(ctx)
	return conditional(t, err)
}

// CallLogsByTicketIDs returns the calls linked to the given tickets, oldest first.
func CallLogsByTicketIDs(ctx context.Context, db DB, ids []string) ([]*models.CallLog, error) {
	var ls []*models.CallLog
	err := selectInto(ctx, db, db.NewSelect().
		Model(&ls).
		Where("cl.ticket_id IN (?)", bun.List(validIDs(ids))).
		OrderExpr("cl.created_at, cl.id"), &ls)
	return ls, mapErr(err, "call log")
}
