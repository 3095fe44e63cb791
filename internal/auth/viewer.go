// Package auth turns a bearer token into the Viewer of a request: a user JWT
// (HS256 with AUTH_JWT_SECRET, or RS256 from Clerk's JWKS; iss and azp
// checked when configured) or a guest's ticket access token. The user's role
// always comes from the database (or from the Cache of it, which every write
// to users invalidates on every replica); who a token's subject is (and the
// user's creation on a first sign-in) is the domain's rule, reached through
// Users.
package auth

import (
	"context"
	"time"

	"github.com/savvysolve/api/models"
)

// Viewer is who makes a request.
type Viewer struct {
	// User is the signed-in user; nil for anonymous and guest requests. It
	// may come from the Cache, shared with other requests: read-only.
	User *models.User
	// Solver is the user's solver profile, when the user has one (User.Solver,
	// read-only too).
	Solver *models.Solver
	// TicketID is the ticket a guest's access token opens.
	TicketID string
	// ExpiresAt is when the token stops being valid (zero: never).
	ExpiresAt time.Time
}

// Anonymous reports whether the request carries no valid token.
func (v Viewer) Anonymous() bool { return v.User == nil && v.TicketID == "" }

// IsAdmin reports whether the viewer is an admin.
func (v Viewer) IsAdmin() bool { return v.User != nil && v.User.Role == models.RoleAdmin }

// UserID returns the signed-in user's id, or "".
func (v Viewer) UserID() string {
	if v.User == nil {
		return ""
	}
	return v.User.ID
}

// SolverID returns the viewer's solver id, or "".
func (v Viewer) SolverID() string {
	if v.Solver == nil {
		return ""
	}
	return v.Solver.ID
}

// ActiveSolver reports whether the viewer is a solver allowed to work.
func (v Viewer) ActiveSolver() bool {
	return v.Solver != nil && v.Solver.Status == models.SolverActive && v.User.Role == models.RoleSolver
}

type viewerKey struct{}

// WithViewer returns a context carrying v.
func WithViewer(ctx context.Context, v Viewer) context.Context {
	return context.WithValue(ctx, viewerKey{}, v)
}

// ViewerFrom returns the context's viewer (anonymous when none).
func ViewerFrom(ctx context.Context) Viewer {
	v, _ := ctx.Value(viewerKey{}).(Viewer)
	return v
}
