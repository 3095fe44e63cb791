package store

import (
	"context"

	"github.com/uptrace/bun"

	"github.com/savvysolve/api/internal/events"
	"github.com/savvysolve/api/internal/page"

	"github.com/savvysolve/api/models"
)

// Every write to users and solvers publishes events.User for each user it
// touched, in the writing transaction, so that every replica drops the
// viewer it keeps for them (auth.Cache): the write functions below do it
// themselves, and no caller can forget. Run them in a transaction, so the
// event is sent if and only if the change commits. The one exception is a
// solver's stats (a session ended, rated or refunded, the nightly
// recount): no viewer serves them (they are read through the loaders), and
// an event would cost the hottest writes a statement each.

// usersChanged publishes events.User for each of userIDs.
func usersChanged(ctx context.Context, db DB, userIDs ...string) error {
	for _, id := range userIDs {
		if err := events.Publish(ctx, db, events.Event{Kind: events.User, ID: id}); err != nil {
			return mapErr(err, "user")
		}
	}
	return nil
}

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
	err := selectInto(ctx, db, db.NewSelect().Model(&us).Where("u.id IN (?)", bun.List(validIDs(ids))), &us)
	return us, mapErr(err, "user")
}

// SolversByIDs returns the solvers with the given ids, in no particular order.
func SolversByIDs(ctx context.Context, db DB, ids []string) ([]*models.Solver, error) {
	var ss []*models.Solver
	err := selectInto(ctx, db, db.NewSelect().Model(&ss).Where("s.id IN (?)", bun.List(validIDs(ids))), &ss)
	return ss, mapErr(err, "solver")
}

// SolversByUserIDs returns the solver profiles of the given users.
func SolversByUserIDs(ctx context.Context, db DB, userIDs []string) ([]*models.Solver, error) {
	var ss []*models.Solver
	err := selectInto(ctx, db, db.NewSelect().Model(&ss).Where("s.user_id IN (?)", bun.List(validIDs(userIDs))), &ss)
	return ss, mapErr(err, "solver")
}

// Solvers lists solver profiles oldest first, optionally with one status.
func Solvers(ctx context.Context, db DB, status *models.SolverStatus, p page.Request) ([]*models.Solver, page.Span, error) {
	filter := func(q *bun.SelectQuery) *bun.SelectQuery {
		if status != nil {
			q = q.Where("s.status = ?", *status)
		}
		return q
	}
	return byCreation[models.Solver](ctx, db, "s", "solver", true, filter, p)
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
	if err != nil {
		return s, mapErr(err, "solver")
	}
	return s, usersChanged(ctx, db, s.UserID)
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

// The addresses of users without a real one, in the reserved .invalid
// domain (RFC 2606) so that they can never reach anyone, and unique per user.
const (
	// placeholderEmail is the address of a user known only from a token
	// without an email claim, or from Clerk without an address (phone-only
	// sign-ups), until Clerk tells one.
	placeholderEmail = `'unknown+' || ?0 || '@invalid'`
	// deletedEmail is the address an anonymised user keeps.
	deletedEmail = `'deleted+' || ?0 || '@invalid'`
)

// SignInUser returns the user with clerkID, creating it as a customer when
// there is none, with email (nil: a placeholder), in one statement that
// concurrent first requests of the same user can all run: one inserts, the
// others get its row. A deleted user is returned as it is (DeletedAt set).
// It publishes no event: a new row makes no cached viewer stale (only rows
// found are cached), and an existing row is left as it was.
func SignInUser(ctx context.Context, db DB, clerkID string, email *string) (*models.User, error) {
	u := new(models.User)
	err := db.NewRaw(`
INSERT INTO users AS u (clerk_id, email) VALUES (?0, COALESCE(?1, `+placeholderEmail+`))
ON CONFLICT (clerk_id) DO UPDATE SET clerk_id = EXCLUDED.clerk_id
RETURNING *`, clerkID, email).Scan(ctx, u)
	if err != nil {
		return nil, mapErr(err, "user")
	}
	if u.Role != models.RoleSolver {
		return u, nil
	}
	// Someone else made the row first, and it has a solver profile.
	return UserByClerkID(ctx, db, clerkID)
}

// ClerkUser is a user as Clerk describes it.
type ClerkUser struct {
	ClerkID string
	Email   *string // nil: Clerk knows none; the row keeps its own (or a placeholder)
	Name    *string
	Phone   *string
}

// UpsertClerkUser creates or updates the user with u's Clerk id (email, name,
// phone; the role stays). A deleted user is never filled in again: applied
// is false then.
func UpsertClerkUser(ctx context.Context, db DB, u ClerkUser) (applied bool, err error) {
	var ids []string
	err = db.NewRaw(`
INSERT INTO users AS u (clerk_id, email, name, phone) VALUES (?0, COALESCE(?1, `+placeholderEmail+`), ?2, ?3)
ON CONFLICT (clerk_id) DO UPDATE
SET email = COALESCE(?1, u.email), name = EXCLUDED.name, phone = EXCLUDED.phone, updated_at = now()
WHERE u.deleted_at IS NULL
RETURNING id::text`,
		u.ClerkID, u.Email, u.Name, u.Phone).Scan(ctx, &ids)
	if err != nil {
		return false, mapErr(err, "user")
	}
	return len(ids) > 0, usersChanged(ctx, db, ids...)
}

// DeleteUser marks the user with clerkID deleted and removes its personal
// data, keeping the row, which tickets, sessions, messages and ratings refer
// to: the email becomes deleted+<clerk_id>@invalid, name and phone are
// cleared, the contact details on the tickets the user opened are replaced,
// and a solver profile loses its Google address and stops being active. A
// Clerk id no user has yet gets a deleted row all the same, so that a token
// still in flight cannot create the user afterwards; found is false then.
func DeleteUser(ctx context.Context, db DB, clerkID string) (found bool, err error) {
	var row struct {
		ID       string `bun:"id"`
		Inserted bool   `bun:"inserted"`
	}
	err = db.NewRaw(`
INSERT INTO users AS u (clerk_id, email, deleted_at) VALUES (?0, `+deletedEmail+`, now())
ON CONFLICT (clerk_id) DO UPDATE SET email = EXCLUDED.email, name = NULL, phone = NULL,
  deleted_at = COALESCE(u.deleted_at, now()), updated_at = now()
RETURNING id::text AS id, xmax = 0 AS inserted`, clerkID).Scan(ctx, &row)
	if err != nil {
		return false, mapErr(err, "user")
	}
	if err := usersChanged(ctx, db, row.ID); err != nil {
		return false, err
	}
	if row.Inserted {
		return false, nil
	}
	if _, err := db.NewRaw(`
UPDATE tickets SET customer_info = '{"name": "Deleted user", "email": null, "phone": null}'::jsonb, updated_at = now()
WHERE customer_id = ?`, row.ID).Exec(ctx); err != nil {
		return true, mapErr(err, "ticket")
	}
	_, err = db.NewRaw(`
UPDATE solvers SET google_email = NULL,
  status = CASE WHEN status = 'active' THEN 'inactive'::solver_status ELSE status END, updated_at = now()
WHERE user_id = ?`, row.ID).Exec(ctx)
	return true, mapErr(err, "solver")
}

// HasUsers reports whether any user exists (an empty database gets the seed data).
func HasUsers(ctx context.Context, db DB) (bool, error) {
	ok, err := db.NewSelect().Model((*models.User)(nil)).Exists(ctx)
	return ok, mapErr(err, "user")
}

// PresentClerkIDs returns those of clerkIDs that some user has.
func PresentClerkIDs(ctx context.Context, db DB, clerkIDs []string) ([]string, error) {
	var present []string
	err := db.NewSelect().
		Model((*models.User)(nil)).
		Column("clerk_id").
		Where("u.clerk_id IN (?)", bun.List(clerkIDs)).
		Scan(ctx, &present)
	return present, mapErr(err, "user")
}
