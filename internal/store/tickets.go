package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/uptrace/bun"

	"github.com/savvysolve/api/internal/page"

	"github.com/savvysolve/api/models"
)

// ticketFilter applies f to a query.
func ticketFilter(f models.TicketFilter) func(*bun.SelectQuery) *bun.SelectQuery {
	return func(q *bun.SelectQuery) *bun.SelectQuery {
		if len(f.Status) > 0 {
			q = q.Where("t.status IN (?)", bun.List(f.Status))
		}
		if len(f.Urgency) > 0 {
			q = q.Where("t.urgency IN (?)", bun.List(f.Urgency))
		}
		if len(f.DeviceType) > 0 {
			q = q.Where("t.device_type IN (?)", bun.List(f.DeviceType))
		}
		if f.SolverID != nil {
			q = q.Where("t.solver_id = ?", uuidOrNull(*f.SolverID))
		}
		if f.CustomerID != nil {
			q = q.Where("t.customer_id = ?", uuidOrNull(*f.CustomerID))
		}
		if f.TicketID != nil {
			q = q.Where("t.id = ?", uuidOrNull(*f.TicketID))
		}
		if f.Search != "" {
			// Word similarity (pg_trgm's <%) is served by the trigram GIN index and
			// forgives small typos; ILIKE catches short words trigrams miss.
			q = q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
				return q.Where("? <% t.description", f.Search).
					WhereOr("t.description ILIKE ?", "%"+escapeLike(f.Search)+"%")
			})
		}
		return q
	}
}

// uuidOrNull makes a malformed id match nothing instead of failing the query.
func uuidOrNull(id string) any {
	if ValidID(id) {
		return id
	}
	return nil
}

func escapeLike(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r == '%' || r == '_' || r == '\\' {
			out = append(out, '\\')
		}
		out = append(out, r)
	}
	return string(out)
}

// Tickets lists the tickets that match f, newest first.
func Tickets(ctx context.Context, db DB, f models.TicketFilter, p page.Request) ([]*models.Ticket, page.Span, error) {
	return byCreation[models.Ticket](ctx, db, "t", "ticket", false, ticketFilter(f), p)
}

// TicketCursor is the cursor of t in Tickets.
func TicketCursor(t *models.Ticket) string { return page.Cursor(t.CreatedAt, t.ID) }

// Queue lists PENDING tickets, most urgent first, then oldest first (the
// partial index tickets_queue_idx serves exactly this order).
func Queue(ctx context.Context, db DB, p page.Request) (rows []*models.Ticket, sp page.Span, err error) {
	pending := func(q *bun.SelectQuery) *bun.SelectQuery { return q.Where("t.status = 'pending'") }
	var urgency models.Urgency
	var at time.Time
	var id string
	var previous string
	if p.After != "" {
		if err := page.Decode("after", p.After, &urgency, &at, &id); err != nil {
			return nil, sp, err
		}
		previous = "(t.urgency > ?::urgency OR (t.urgency = ?::urgency AND (t.created_at, t.id) <= (?, ?::uuid)))"
	}
	if !p.Uncounted {
		if sp, err = span(ctx, db, db.NewSelect().Model((*models.Ticket)(nil)).Apply(pending), previous, urgency, urgency, at, id); err != nil {
			return nil, sp, mapErr(err, "ticket")
		}
	}
	q := db.NewSelect().
		Model(&rows).
		Apply(pending).
		OrderExpr("t.urgency DESC, t.created_at, t.id").
		Limit(int64(p.First + 1))
	if p.After != "" {
		q = q.Where("(t.urgency < ?::urgency OR (t.urgency = ?::urgency AND (t.created_at, t.id) > (?, ?::uuid)))",
			urgency, urgency, at, id)
	}
	return rows, sp, mapErr(selectInto(ctx, db, q, &rows), "ticket")
}

// QueueCursor is the cursor of t in Queue.
func QueueCursor(t *models.Ticket) string { return page.Cursor(t.Urgency, t.CreatedAt, t.ID) }

// TicketsByIDs returns the tickets with the given ids, in no particular order.
func TicketsByIDs(ctx context.Context, db DB, ids []string) ([]*models.Ticket, error) {
	var ts []*models.Ticket
	err := selectInto(ctx, db, db.NewSelect().Model(&ts).Where("t.id IN (?)", bun.List(validIDs(ids))), &ts)
	return ts, mapErr(err, "ticket")
}

// TicketByID returns one ticket; with lock, the row stays locked until the transaction ends.
func TicketByID(ctx context.Context, db DB, id string, lock bool) (*models.Ticket, error) {
	t := new(models.Ticket)
	if !ValidID(id) {
		return nil, mapErr(sql.ErrNoRows, "ticket")
	}
	q := db.NewSelect().Model(t).Where("t.id = ?", id)
	if lock {
		q = q.For("UPDATE")
	}
	return t, mapErr(q.Scan(ctx), "ticket")
}

// TicketByTokenHash returns the ticket whose guest token has this hash.
func TicketByTokenHash(ctx context.Context, db DB, hash []byte) (*models.Ticket, error) {
	t := new(models.Ticket)
	err := db.NewSelect().Model(t).Where("t.access_token_hash = ?", hash).Scan(ctx)
	return t, mapErr(err, "ticket")
}

// InsertTicket inserts t and fills in its generated columns.
func InsertTicket(ctx context.Context, db DB, t *models.Ticket) error {
	_, err := db.NewInsert().Model(t).Returning("*").Exec(ctx)
	return mapErr(err, "ticket")
}

// ClaimTicket assigns a PENDING ticket to a solver in one conditional update,
// so of any number of concurrent claims exactly one matches. It returns
// ok=false (and no error) when the ticket is not PENDING.
func ClaimTicket(ctx context.Context, db DB, id, solverID string) (*models.Ticket, bool, error) {
	t := new(models.Ticket)
	err := db.NewUpdate().
		Model(t).
		Set("status = 'claimed'").
		Set("solver_id = ?", solverID).
		Set("claimed_at = now()").
		Set("updated_at = now()").
		Where("id = ? AND status = 'pending'", id).
		Returning("*").
		Scan(ctx)
	return conditional(t, err)
}

// conditional reads the result of an UPDATE ... WHERE <state> RETURNING: no
// row means the state did not match (ok=false), not an error.
func conditional(t *models.Ticket, err error) (*models.Ticket, bool, error) {
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, mapErr(err, "ticket")
	}
	return t, true, nil
}

// SetTicketStatus moves a ticket to status if its status is one of from; ok=false when it is not.
func SetTicketStatus(ctx context.Context, db DB, id string, from []models.TicketStatus, to models.TicketStatus, reason *string) (*models.Ticket, bool, error) {
	t := new(models.Ticket)
	q := db.NewUpdate().
		Model(t).
		Set("status = ?", to).
		Set("updated_at = now()").
		Where("id = ? AND status IN (?)", id, bun.List(from)).
		Returning("*")
	if reason != nil {
		q = q.Set("status_reason = ?", *reason)
	}
	return conditional(t, q.Scan(ctx))
}

// TicketsUpdatedSince returns up to limit tickets changed at or after since,
// oldest change first (subscribers catching up after a lost connection).
func TicketsUpdatedSince(ctx context.Context, db DB, since time.Time, limit int) ([]*models.Ticket, error) {
	var ts []*models.Ticket
	err := db.NewSelect().
		Model(&ts).
		Where("t.updated_at >= ?", since).
		OrderExpr("t.updated_at, t.id").
		Limit(int64(limit)).
		Scan(ctx)
	return ts, mapErr(err, "ticket")
}
