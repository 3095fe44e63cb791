package store

import (
	"context"
	"time"

	"github.com/savvysolve/api/internal/page"

	"github.com/uptrace/bun"

	"github.com/savvysolve/api/models"
)

// RatingsBySessionIDs returns the ratings of the given sessions.
func RatingsBySessionIDs(ctx context.Context, db DB, ids []string) ([]*models.Rating, error) {
	var rs []*models.Rating
	err := db.NewSelect().Model(&rs).Where("r.session_id IN (?)", bun.List(validIDs(ids))).Scan(ctx)
	return rs, mapErr(err, "rating")
}

// RatingPage asks for First ratings of a solver after a cursor, newest first.
type RatingPage struct {
	SolverID string
	After    string
	First    int
}

// RatingRow is a rating in a page, with the total number of the solver's ratings.
type RatingRow struct {
	models.Rating `bun:",extend"`
	Key           int  `bun:"key"`
	Total         int  `bun:"total"`
	Previous      bool `bun:"previous"` // ratings at or before the cursor exist
}

// RatingPages reads one page (up to First+1 rows), the total and whether
// ratings come before the page for each key in one statement. Keys whose solver has no ratings return one row with a zero
// id and the total 0. Rows carry the index of their key.
func RatingPages(ctx context.Context, db DB, keys []RatingPage) ([]RatingRow, error) {
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
	var rows []RatingRow
	err := db.NewSelect().
		TableExpr("unnest(?::int[], ?::uuid[], ?::timestamptz[], ?::uuid[], ?::int[]) AS k(key, solver_id, after_at, after_id, lim)",
			pgArray(idx), pgArray(ids), pgArray(ats), pgArray(afterIDs), pgArray(limits)).
		ColumnExpr("r.id, r.session_id, r.solver_id, r.rating, r.comment, r.created_at, k.key, c.total, c.previous").
		Join(`CROSS JOIN LATERAL (
			SELECT count(*) AS total,
				coalesce(bool_or(k.after_at IS NOT NULL AND (created_at, id) >= (k.after_at, k.after_id)), false) AS previous
			FROM ratings WHERE solver_id = k.solver_id) AS c`).
		Join(`LEFT JOIN LATERAL (
			SELECT * FROM ratings x
			WHERE x.solver_id = k.solver_id AND (k.after_at IS NULL OR (x.created_at, x.id) < (k.after_at, k.after_id))
			ORDER BY x.created_at DESC, x.id DESC LIMIT k.lim) AS r ON true`).
		OrderExpr("k.key, r.created_at DESC, r.id DESC").
		Scan(ctx, &rows)
	return rows, mapErr(err, "rating")
}

// RatingCursor is the cursor of r in RatingPages.
func RatingCursor(r *models.Rating) string { return page.Cursor(r.CreatedAt, r.ID) }

// InsertRating inserts r; a second rating of a session is CONFLICT.
func InsertRating(ctx context.Context, db DB, r *models.Rating) error {
	_, err := db.NewInsert().Model(r).Returning("*").Exec(ctx)
	return mapErr(err, "rating")
}
