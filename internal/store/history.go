package store

import (
	"context"
	"time"

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
func Sessions(ctx context.Context, db DB, f models.SessionFilter, p page.Request) (rows []*models.Session, sp page.Span, err error) {
	var at time.Time
	var id string
	var previous string
	if p.After != "" {
		if err := page.Decode("after", p.After, &at, &id); err != nil {
			return nil, sp, err
		}
		previous = "(ss.created_at, ss.id) >= (?, ?::uuid)"
	}
	if sp, err = span(ctx, db.NewSelect().Model((*models.Session)(nil)).Apply(sessionFilter(f)), previous, at, id); err != nil {
		return nil, sp, mapErr(err, "session")
	}
	q := db.NewSelect().
		Model(&rows).
		Apply(sessionFilter(f)).
		OrderExpr("ss.created_at DESC, ss.id DESC").
		Limit(int64(p.First + 1))
	if p.After != "" {
		q = q.Where("(ss.created_at, ss.id) < (?, ?::uuid)", at, id)
	}
	err = q.Scan(ctx)
	return rows, sp, mapErr(err, "session")
}

// SessionCursor is the cursor of s in Sessions and SessionPages.
func SessionCursor(s *models.Session) string { return page.Cursor(s.CreatedAt, s.ID) }

// SessionPage asks for First sessions of a solver after a cursor, newest first.
type SessionPage struct {
	SolverID string
	After    string
	First    int
}

// SessionRow is a session in a page, with the index of its key, the number
// of the solver's sessions and whether sessions come before the page.
type SessionRow struct {
	models.Session `bun:",extend"`
	Key            int  `bun:"key"`
	Total          int  `bun:"total"`
	Previous       bool `bun:"previous"`
}

// SessionPages reads one page (up to First+1 rows), the total and whether
// sessions come before the page for each key in one statement, like
// RatingPages. Keys whose solver has no sessions return one row with a zero
// id.
func SessionPages(ctx context.Context, db DB, keys []SessionPage) ([]SessionRow, error) {
	n := len(keys)
	idx, ids, ats, afterIDs, limits := make([]int, 0, n), make([]string, 0, n), make([]*time.Time, 0, n), make([]*string, 0, n), make([]int, 0, n)
	for i, k := range keys {
		if !ValidID(k.SolverID) {
			continue
		}
		var at *time.Time
		var id *string
		if k.After != "" {
			at, id = new(time.Time), new(string)
			if err := page.Decode("after", k.After, at, id); err != nil {
				return nil, err
			}
		}
		idx, ids, ats, afterIDs, limits = append(idx, i), append(ids, k.SolverID), append(ats, at), append(afterIDs, id), append(limits, k.First+1)
	}
	var rows []SessionRow
	err := db.NewSelect().
		TableExpr("unnest(?::int[], ?::uuid[], ?::timestamptz[], ?::uuid[], ?::int[]) AS k(key, solver_id, after_at, after_id, lim)",
			pgArray(idx), pgArray(ids), pgArray(ats), pgArray(afterIDs), pgArray(limits)).
		ColumnExpr("ss.*, k.key, c.total, c.previous").
		Join(`CROSS JOIN LATERAL (
			SELECT count(*) AS total,
				coalesce(bool_or(k.after_at IS NOT NULL AND (created_at, id) >= (k.after_at, k.after_id)), false) AS previous
			FROM sessions WHERE solver_id = k.solver_id) AS c`).
		Join(`LEFT JOIN LATERAL (
			SELECT * FROM sessions x
			WHERE x.solver_id = k.solver_id AND (k.after_at IS NULL OR (x.created_at, x.id) < (k.after_at, k.after_id))
			ORDER BY x.created_at DESC, x.id DESC LIMIT k.lim) AS ss ON true`).
		OrderExpr("k.key, ss.created_at DESC, ss.id DESC").
		Scan(ctx, &rows)
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
