package store

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/savvysolve/api/internal/page"

	"github.com/savvysolve/api/models"
)

// sessionFilter applies f to a query.
func sessionFilter(f models.SessionFilter) func(*bun.SelectQuery) *bun.SelectQuery {
	return func(q *bun.SelectQuery) *bun.SelectQuery {
		if f.SolverID != nil {
			q = q.Where("ss.solver_id = ?", uuidOrNull(*f.SolverID))
		}
		if f.CustomerID != nil {
			q = q.Where("ss.ticket_id IN (SELECT t.id FROM tickets AS t WHERE t.customer_id = ?)", uuidOrNull(*f.CustomerID))
		}
		if f.TicketID != nil {
			q = q.Where("ss.ticket_id = ?", uuidOrNull(*f.TicketID))
		}
		if f.Active != nil {
			if *f.Active {
				q = q.Where("ss.started_at IS NOT NULL AND ss.ended_at IS NULL")
			} else {
				q = q.Where("ss.ended_at IS NOT NULL")
			}
		}
		if f.StartedAfter != nil {
			q = q.Where("ss.started_at >= ?", *f.StartedAfter)
		}
		if f.StartedBefore != nil {
			q = q.Where("ss.started_at < ?", *f.StartedBefore)
		}
		return q
	}
}

// Sessions lists the sessions that match f, newest first.
func Sessions(ctx context.Context, db DB, f models.SessionFilter, p page.Request) ([]*models.Session, page.Span, error) {
	return byCreation[models.Session](ctx, db, "ss", "session", false, sessionFilter(f), p)
}

// SessionCursor is the cursor of s in Sessions and SessionPages.
func SessionCursor(s *models.Session) string { return page.Cursor(s.CreatedAt, s.ID) }

// SessionRow is a session in a page, with the index of its key, the number
// of the solver's sessions and whether sessions come before the page.
type SessionRow struct {
	models.Session `bun:",extend"`
	Key            int  `bun:"key"`
	Total          int  `bun:"total"`
	Previous       bool `bun:"previous"`
}

// SessionPages reads a page of each key's solver's sessions, newest first,
// in one statement (solverPages).
func SessionPages(ctx context.Context, db DB, keys []SolverPage) ([]SessionRow, error) {
	var rows []SessionRow
	err := solverPages(ctx, db, keys, "sessions", "ss", "ss.*", &rows)
	return rows, mapErr(err, "session")
}

// TouchSession marks a session changed (sessions.updated_at): changes kept in
// other tables (screen shares, the rating) count as changes of the session,
// so a sessionUpdated subscriber catching up after a lost listener finds them.
func TouchSession(ctx context.Context, db DB, id string) error {
	_, err := db.NewUpdate().
		Model((*models.Session)(nil)).
		Set("updated_at = now()").
		Where("id = ?", id).
		Exec(ctx)
	return mapErr(err, "session")
}
