package desk

import (
	"context"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/page"
	"github.com/savvysolve/api/internal/store"
	"github.com/savvysolve/api/models"
)

// Session history.
//
//   - sessions: admins every session; solvers their own; customers those of
//     the tickets they opened (or linked); a ticket token its ticket's.
//   - Solver.sessions: that solver and admins.
//   - sessionUpdated: whoever may see the session (AuthorizeSessionUpdates).

// Sessions lists the sessions the viewer may list, newest first.
func (d *Desk) Sessions(ctx context.Context, f models.SessionFilter, p page.Request) ([]*models.Session, page.Span, error) {
	v := auth.ViewerFrom(ctx)
	if err := signedIn(v); err != nil {
		return nil, page.Span{}, err
	}
	if err := page.Check(p.First); err != nil {
		return nil, page.Span{}, err
	}
	f.CustomerID, f.TicketID = nil, nil // scopes come from the viewer only
	switch {
	case v.IsAdmin():
	case v.TicketID != "":
		f.TicketID = &v.TicketID
	case v.Solver != nil && v.User.Role == models.RoleSolver:
		id := v.Solver.ID
		if f.SolverID != nil && *f.SolverID != id {
			return nil, page.Span{}, nil // another solver's sessions: none are the viewer's
		}
		f.SolverID = &id
	default:
		id := v.User.ID
		f.CustomerID = &id
	}
	return store.Sessions(ctx, d.db, f, p)
}

// CanSeeSolverSessions: a solver's session history is for that solver and admins.
func CanSeeSolverSessions(v auth.Viewer, s *models.Solver) bool {
	return v.IsAdmin() || v.SolverID() == s.ID
}

// AuthorizeSolverSessions: FORBIDDEN unless the viewer may page through the
// solver's sessions.
func AuthorizeSolverSessions(v auth.Viewer, s *models.Solver) error {
	if !CanSeeSolverSessions(v, s) {
		return apperr.New(apperr.Forbidden, "a solver's sessions are for that solver and admins")
	}
	return nil
}

// AuthorizeSessionUpdates: a session's changes (sessionUpdated) stream to
// those who may see the session: its customer (account or ticket token), its
// solver and admins; to anyone else the session does not exist.
func AuthorizeSessionUpdates(v auth.Viewer, s *models.Session, t *models.Ticket) error {
	if err := signedIn(v); err != nil {
		return err
	}
	if !CanSeeSession(v, s, t) {
		return apperr.NotFoundf("session")
	}
	return nil
}
