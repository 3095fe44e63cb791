package store

import (
	"context"

	"github.com/savvysolve/api/internal/page"

	"github.com/uptrace/bun"

	"github.com/savvysolve/api/models"
)

// RatingsBySessionIDs returns the ratings of the given sessions.
func RatingsBySessionIDs(ctx context.Context, db DB, ids []string) ([]*models.Rating, error) {
	var rs []*models.Rating
	err := selectInto(ctx, db, db.NewSelect().Model(&rs).Where("r.session_id IN (?)", bun.List(validIDs(ids))), &rs)
	return rs, mapErr(err, "rating")
}

// RatingRow is a rating in a page, with the total number of the solver's ratings.
type RatingRow struct {
	models.Rating `bun:",extend"`
	Key           int  `bun:"key"`
	Total         int  `bun:"total"`
	Previous      bool `bun:"previous"` // ratings at or before the cursor exist
}

// RatingPages reads a page of each key's solver's ratings, newest first, in
// one statement (solverPages).
func RatingPages(ctx context.Context, db DB, keys []SolverPage) ([]RatingRow, error) {
	var rows []RatingRow
	err := solverPages(ctx, db, keys, "ratings", "r", "r.id, r.session_id, r.solver_id, r.rating, r.comment, r.created_at", &rows)
	return rows, mapErr(err, "rating")
}

// RatingCursor is the cursor of r in RatingPages.
func RatingCursor(r *models.Rating) string { return page.Cursor(r.CreatedAt, r.ID) }

// InsertRating inserts r; a second rating of a session is CONFLICT.
func InsertRating(ctx context.Context, db DB, r *models.Rating) error {
	_, err := db.NewInsert().Model(r).Returning("*").Exec(ctx)
	return mapErr(err, "rating")
}
