package store

import (
	"context"
	"database/sql"

	"github.com/uptrace/bun"

	"github.com/savvysolve/api/internal/page"

	"github.com/savvysolve/api/models"
)

// UserByID returns one user; with lock, the row stays locked until the transaction ends.
func UserByID(ctx context.Context, db DB, id string, lock bool) (*models.User, error) {
	if !ValidID(id) {
		return nil, mapErr(sql.ErrNoRows, "user")
	}
	u := new(models.User)
	q := db.NewSelect().Model(u).Where("u.id = ?", id)
	if lock {
		q = q.For("UPDATE")
	}
	return u, mapErr(q.Scan(ctx), "user")
}

// SolverByID returns one solver profile; with lock, the row stays locked
// until the transaction ends.
func SolverByID(ctx context.Context, db DB, id string, lock bool) (*models.Solver, error) {
	if !ValidID(id) {
		return nil, mapErr(sql.ErrNoRows, "solver")
	}
	s := new(models.Solver)
	q := db.NewSelect().Model(s).Where("s.id = ?", id)
	if lock {
		q = q.For("UPDATE")
	}
	return s, mapErr(q.Scan(ctx), "solver")
}

// InsertSolver inserts a solver profile; a second profile of one user is CONFLICT.
func InsertSolver(ctx context.Context, db DB, s *models.Solver) error {
	if _, err := db.NewInsert().Model(s).Returning("*").Exec(ctx); err != nil {
		return mapErr(err, "solver profile")
	}
	return usersChanged(ctx, db, s.UserID)
}

// SetUserRole changes a user's role.
func SetUserRole(ctx context.Context, db DB, id string, role models.UserRole) (*models.User, error) {
	u := new(models.User)
	err := db.NewUpdate().
		Model(u).
		Set("role = ?", role).
		Set("updated_at = now()").
		Where("id = ?", id).
		Returning("*").
		Scan(ctx)
	if err != nil {
		return u, mapErr(err, "user")
	}
	return u, usersChanged(ctx, db, u.ID)
}

// LockAdmins locks the rows of every admin who can still sign in (not
// deleted), in id order, and returns their ids: role changes that touch
// admins serialize on them, so two admins demoting each other at once cannot
// leave the platform without one.
func LockAdmins(ctx context.Context, db DB) ([]string, error) {
	var ids []string
	err := db.NewSelect().
		Model((*models.User)(nil)).
		Column("id").
		Where("u.role = 'admin' AND u.deleted_at IS NULL").
		OrderExpr("u.id").
		For("UPDATE").
		Scan(ctx, &ids)
	return ids, mapErr(err, "user")
}

// userFilter applies f to a query.
func userFilter(f models.UserFilter) func(*bun.SelectQuery) *bun.SelectQuery {
	return func(q *bun.SelectQuery) *bun.SelectQuery {
		if f.Role != nil {
			q = q.Where("u.role = ?", *f.Role)
		}
		if f.Search != "" {
			// The trigram indexes on name and email serve substring ILIKE.
			like := "%" + escapeLike(f.Search) + "%"
			q = q.WhereGroup(" AND ", func(q *bun.SelectQuery) *bun.SelectQuery {
				return q.Where("u.name ILIKE ?", like).WhereOr("u.email ILIKE ?", like)
			})
		}
		return q
	}
}

// Users lists the users that match f, newest first.
func Users(ctx context.Context, db DB, f models.UserFilter, p page.Request) ([]*models.User, page.Span, error) {
	return byCreation[models.User](ctx, db, "u", "user", false, userFilter(f), p)
}

// UserCursor is the cursor of u in Users.
func UserCursor(u *models.User) string { return page.Cursor(u.CreatedAt, u.ID) }
