package desk

import (
	"context"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/store"
	"github.com/savvysolve/api/models"
)

// Session history.
//
//   - sessions: admins every session; solvers their own; customers those of
//     the tickets they opened (or linked); a ticket token its ticket's.
//   - Solver.sessions: that solver and admins.
//   - sessionUpdated: whoever may see the session (CanFollowSession).

// Sessions lists the sessions the viewer may list, newest first.
func (d *Desk) Sessions(ctx context.Context, f store.SessionFilter, p store.Page) ([]*models.Session, store.Span, error) {
	v := auth.ViewerFrom(ctx)
	if err := signedIn(v); err != nil {
		return nil, store.Span{}, err
	}
	if err := CheckFirst(p.First); err != nil {
		return nil, store.Span{}, err
	}
	f.CustomerID, f.TicketID = nil, nil // scopes come from the viewer only
	switch {
	case v.IsAdmin():
	case v.TicketID != "":
		f.TicketID = &v.TicketID
	case v.Solver != nil && v.User.Role == models.RoleSolver:
		id := v.Solver.ID
		if f.SolverID != nil && *f.SolverID != id {
			return nil, store.Span{}, nil // another solver's sessions: none are the viewer's
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

// SolverSessions checks that the viewer may page through a solver's
// sessions and returns the page to load.
func SolverSessions(v auth.Viewer, s *models.Solver, p store.Page) (store.SessionPage, error) {
	if !CanSeeSolverSessions(v, s) {
		return store.SessionPage{}, apperr.New(apperr.Forbidden, "a solver's sessions are for that solver and admins")
	}
	if err := CheckFirst(p.First); err != nil {
		return store.SessionPage{}, err
	}
	return store.SessionPage{SolverID: s.ID, After: p.After, First: p.First}, nil
}

// CanFollowSession: sessionUpdated is for those who may see the session: its
// customer (account or ticket token), its solver and admins.
func CanFollowSession(v auth.Viewer, s *models.Session, t *models.Ticket) bool {
	return CanSeeSession(v, s, t)
}

// MessagePage turns the arguments of Session.messages into the page to load:
// `first` messages after the cursor `after`, or, when `last` is given (it
// wins over `first`), the `last` messages before the cursor `before`. after
// and before may be combined to read between two messages.
func MessagePage(sessionID string, first *int, after *string, last *int, before *string) (store.MessagePage, error) {
	k := store.MessagePage{SessionID: sessionID, N: 50}
	if first != nil {
		k.N = *first
	}
	if last != nil {
		k.N, k.Backward = *last, true
		if *last < 0 || *last > MaxPage {
			return k, apperr.Invalid("last", "last must be between 0 and %d", MaxPage)
		}
	} else if err := CheckFirst(k.N); err != nil {
		return k, err
	}
	var err error
	if after != nil && *after != "" {
		if k.AfterSeq, err = store.MessageCursorSeq(*after); err != nil {
			return k, err
		}
	}
	if before != nil && *before != "" {
		if k.BeforeSeq, err = store.MessageCursorSeq(*before); err != nil {
			return k, apperr.Invalid("before", "before is not a cursor of this list")
		}
	}
	return k, nil
}
