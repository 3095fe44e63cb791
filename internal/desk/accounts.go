package desk

import (
	"context"
	"net/mail"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/page"
	"github.com/savvysolve/api/internal/store"
	"github.com/savvysolve/api/models"
)

// The accounts' rules: how a customer becomes a solver, how a solver goes
// online and offline, and how admins set roles and find people.
//
//   - applyAsSolver: a signed-in CUSTOMER, once; the profile starts ONBOARDING
//     and an admin activates it (updateSolverStatus).
//   - setMyAvailability: the solver themself, ACTIVE <-> INACTIVE only; an
//     ONBOARDING or SUSPENDED solver is refused (FORBIDDEN).
//   - setUserRole and users: admins. The platform always keeps an admin.

// errAccount refuses guests (ticket tokens) and anonymous viewers where an
// account is needed.
var errAccount = apperr.New(apperr.Unauthent, "sign in with an account first")

// revenueShareDefault is a new solver's share of each session's price, in
// percent (the column's default too).
const revenueShareDefault = 70

// SolverApplication is an application to become a solver.
type SolverApplication struct {
	Type        models.SolverType
	GoogleEmail *string
}

// ApplyAsSolver makes the signed-in customer a solver: a solver profile in
// ONBOARDING and the role SOLVER, in one transaction. A second application
// (a profile exists) is CONFLICT; admins are refused.
func (d *Desk) ApplyAsSolver(ctx context.Context, in SolverApplication) (*models.Solver, error) {
	v := auth.ViewerFrom(ctx)
	if v.User == nil {
		return nil, errAccount
	}
	if in.Type == "" {
		in.Type = models.SolverGeneral
	}
	if in.GoogleEmail = trimmed(in.GoogleEmail); in.GoogleEmail != nil {
		a, err := mail.ParseAddress(*in.GoogleEmail)
		if err != nil || a.Address != *in.GoogleEmail || len(*in.GoogleEmail) > 255 {
			return nil, apperr.Invalid("googleEmail", "googleEmail is not a valid address")
		}
	}
	var s *models.Solver
	err := d.tx(ctx, func(tx bun.Tx) error {
		// The user's row lock serializes a user's concurrent applications.
		u, err := store.UserByID(ctx, tx, v.User.ID, true)
		if err != nil {
			return err
		}
		if existing, err := store.SolversByUserIDs(ctx, tx, []string{u.ID}); err != nil {
			return err
		} else if len(existing) > 0 {
			return apperr.New(apperr.Conflict, "you already have a solver profile (it is %s)", strings.ToUpper(string(existing[0].Status)))
		}
		if u.Role != models.RoleCustomer {
			return apperr.New(apperr.Forbidden, "only customers apply as solvers")
		}
		s = &models.Solver{UserID: u.ID, Type: in.Type, Status: models.SolverOnboarding,
			RevenueSharePercent: revenueShareDefault, GoogleEmail: in.GoogleEmail}
		if err := store.InsertSolver(ctx, tx, s); err != nil {
			return err
		}
		_, err = store.SetUserRole(ctx, tx, u.ID, models.RoleSolver)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// SetMyAvailability puts the signed-in solver online (ACTIVE) or offline
// (INACTIVE). Only a solver who is ACTIVE or INACTIVE may switch; ONBOARDING
// and SUSPENDED are for admins to change. Going offline releases nothing:
// the solver keeps their claimed tickets, but cannot claim (ClaimTicket).
func (d *Desk) SetMyAvailability(ctx context.Context, available bool) (*models.Solver, error) {
	v := auth.ViewerFrom(ctx)
	if v.User == nil {
		return nil, errAccount
	}
	if v.Solver == nil || v.User.Role != models.RoleSolver {
		return nil, apperr.New(apperr.Forbidden, "only solvers set their availability")
	}
	to := models.SolverInactive
	if available {
		to = models.SolverActive
	}
	var out *models.Solver
	err := d.tx(ctx, func(tx bun.Tx) error {
		s, err := store.SolverByID(ctx, tx, v.Solver.ID, true)
		if err != nil {
			return err
		}
		switch s.Status {
		case models.SolverOnboarding:
			return apperr.New(apperr.Forbidden, "your solver profile is still ONBOARDING: an admin activates it")
		case models.SolverSuspended:
			return apperr.New(apperr.Forbidden, "your solver profile is SUSPENDED: only an admin can lift it")
		case to:
			out = s
			return nil
		}
		out, err = store.SetSolverStatus(ctx, tx, s.ID, to)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SetUserRole sets a user's role. Admins only. A new SOLVER without a solver
// profile gets one, ONBOARDING. The last admin (deleted users do not count)
// cannot give up the role (CONFLICT): the admins' rows are locked first, so
// concurrent changes cannot leave the platform without an admin either. A
// deleted user's role no longer changes (CONFLICT).
func (d *Desk) SetUserRole(ctx context.Context, userID string, role models.UserRole) (*models.User, error) {
	v := auth.ViewerFrom(ctx)
	if err := signedIn(v); err != nil {
		return nil, err
	}
	if !v.IsAdmin() {
		return nil, apperr.New(apperr.Forbidden, "only admins set roles")
	}
	var out *models.User
	err := d.tx(ctx, func(tx bun.Tx) error {
		admins, err := store.LockAdmins(ctx, tx)
		if err != nil {
			return err
		}
		if !slices.Contains(admins, v.User.ID) { // demoted meanwhile
			return apperr.New(apperr.Forbidden, "only admins set roles")
		}
		u, err := store.UserByID(ctx, tx, userID, true)
		if err != nil {
			return err
		}
		if u.DeletedAt != nil {
			return apperr.New(apperr.Conflict, "the user was deleted")
		}
		if u.Role == models.RoleAdmin && role != models.RoleAdmin && len(admins) == 1 {
			return apperr.New(apperr.Conflict, "the last admin cannot give up the role: make someone else an admin first")
		}
		if u.Role != role {
			if u, err = store.SetUserRole(ctx, tx, u.ID, role); err != nil {
				return err
			}
		}
		out = u
		if role != models.RoleSolver {
			return nil
		}
		if existing, err := store.SolversByUserIDs(ctx, tx, []string{u.ID}); err != nil || len(existing) > 0 {
			return err
		}
		return store.InsertSolver(ctx, tx, &models.Solver{UserID: u.ID, Type: models.SolverGeneral,
			Status: models.SolverOnboarding, RevenueSharePercent: revenueShareDefault})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Users lists people, newest first, optionally of one role and matching a
// search in name or email. Admins only.
func (d *Desk) Users(ctx context.Context, f models.UserFilter, p page.Request) ([]*models.User, page.Span, error) {
	v := auth.ViewerFrom(ctx)
	if err := signedIn(v); err != nil {
		return nil, page.Span{}, err
	}
	if !CanListUsers(v) {
		return nil, page.Span{}, apperr.New(apperr.Forbidden, "the user list is for admins")
	}
	if err := page.Check(p.First); err != nil {
		return nil, page.Span{}, err
	}
	f.Search = strings.TrimSpace(f.Search)
	if utf8.RuneCountInString(f.Search) > 200 {
		return nil, page.Span{}, apperr.Invalid("search", "search must have at most 200 characters")
	}
	return store.Users(ctx, d.db, f, p)
}

// CanListUsers: finding people (with their contact details) is for admins.
func CanListUsers(v auth.Viewer) bool { return v.IsAdmin() }
