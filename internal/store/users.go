package store

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/savvysolve/api/internal/page"

	"github.com/savvysolve/api/models"
)

// UserByClerkID returns the user with its solver profile (if any).
func UserByClerkID(ctx context.Context, db DB, clerkID string) (*models.User, error) {
	u := new(models.User)
	err := db.NewSelect().
		Model(u).
		Relation("Solver").
		Where("u.clerk_id = ?", clerkID).
		Scan(ctx)
	return u, mapErr(err, "user")
}

// UsersByIDs returns the users with the given ids, in no particular order.
func UsersByIDs(ctx context.Context, db DB, ids []string) ([]*models.User, error) {
	var us []*models.User
	err := db.NewSelect().Model(&us).Where("u.id IN (?)", bun.List(validIDs(ids))).Scan(ctx)
	return us, mapErr(err, "user")
}

// SolversByIDs returns the solvers with the given ids, in no particular order.
func SolversByIDs(ctx context.Context, db DB, ids []string) ([]*models.Solver, error) {
	var ss []*models.Solver
	err := db.NewSelect().Model(&ss).Where("s.id IN (?)", bun.List(validIDs(ids))).Scan(ctx)
	return ss, mapErr(err, "solver")
}

// SolversByUserIDs returns the solver profiles of the given users.
func SolversByUserIDs(ctx context.Context, db DB, userIDs []string) ([]*models.Solver, error) {
	var ss []*models.Solver
	err := db.NewSelect().Model(&ss).Where("s.user_id IN (?)", bun.List(validIDs(userIDs))).Scan(ctx)
	return ss, mapErr(err, "solver")
}

// Solvers lists solver profiles oldest first, optionally with one status.
func Solvers(ctx context.Context, db DB, status *models.SolverStatus, p page.Request) (rows []*models.Solver, sp Span, err error) {
	filter := func(q *bun.SelectQuery) *bun.SelectQuery {
		if status != nil {
			q = q.Where("s.status = ?", *status)
		}
		return q
	}
	var at, id string
	var previous string
	if p.After != "" {
		if err := page.Decode("after", p.After, &at, &id); err != nil {
			return nil, sp, err
		}
		previous = "(s.created_at, s.id) <= (?::timestamptz, ?::uuid)"
	}
	if sp, err = span(ctx, db.NewSelect().Model((*models.Solver)(nil)).Apply(filter), previous, at, id); err != nil {
		return nil, sp, mapErr(err, "solver")
	}
	q := db.NewSelect().
		Model(&rows).
		Apply(filter).
		OrderExpr("s.created_at, s.id").
		Limit(int64(p.First + 1))
	if p.After != "" {
		q = q.Where("(s.created_at, s.id) > (?::timestamptz, ?::uuid)", at, id)
	}
	err = q.Scan(ctx)
	return rows, sp, mapErr(err, "solver")
}

// SolverCursor is the cursor of s in Solvers.
func SolverCursor(s *models.Solver) string { return page.Cursor(s.CreatedAt, s.ID) }

// SetSolverStatus changes a solver's status.
func SetSolverStatus(ctx context.Context, db DB, id string, status models.SolverStatus) (*models.Solver, error) {
	s := new(models.Solver)
	err := db.NewUpdate().
		Model(s).
		Set("status = ?", status).
		Set("updated_at = now()").
		Where("id = ?", id).
		Returning("*").
		Scan(ctx)
	return s, mapErr(err, "solver")
}

// AddCompletedSession adds one completed session and its earnings to a solver's stats.
func AddCompletedSession(ctx context.Context, db DB, solverID string, earnings int) error {
	_, err := db.NewUpdate().
		Model((*models.Solver)(nil)).
		Set(`stats = stats || jsonb_build_object(
			'completedSessions', coalesce((stats->>'completedSessions')::int, 0) + 1,
			'totalEarningsCents', coalesce((stats->>'totalEarningsCents')::bigint, 0) + ?)`, earnings).
		Set("updated_at = now()").
		Where("id = ?", solverID).
		Exec(ctx)
	return mapErr(err, "solver")
}

// RecomputeRatingStats sets a solver's averageRating (two decimals) and
// totalRatings from its ratings, so the stats cannot drift from the rows.
func RecomputeRatingStats(ctx context.Context, db DB, solverID string) error {
	_, err := db.NewUpdate().
		Model((*models.Solver)(nil)).
		Set(`stats = stats || (
			SELECT jsonb_build_object('averageRating', round(avg(r.rating)::numeric, 2), 'totalRatings', count(*))
			FROM ratings r WHERE r.solver_id = s.id)`).
		Set("updated_at = now()").
		Where("id = ?", solverID).
		Exec(ctx)
	return mapErr(err, "solver")
}
