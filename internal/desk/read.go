package desk

import (
	"context"

	"github.com/savvysolve/api/internal/page"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/store"
	"github.com/savvysolve/api/models"
)

// Tickets lists the tickets the viewer may list, newest first: admins all,
// solvers those assigned to them, customers their own, a guest token its one.
func (d *Desk) Tickets(ctx context.Context, f models.TicketFilter, p page.Request) ([]*models.Ticket, page.Span, error) {
	v := auth.ViewerFrom(ctx)
	if err := signedIn(v); err != nil {
		return nil, page.Span{}, err
	}
	if err := page.Check(p.First); err != nil {
		return nil, page.Span{}, err
	}
	switch {
	case v.IsAdmin():
	case v.TicketID != "":
		f.TicketID = &v.TicketID
	case v.Solver != nil && v.User.Role == models.RoleSolver:
		id := v.Solver.ID
		if f.SolverID != nil && *f.SolverID != id {
			return nil, page.Span{}, nil // another solver's tickets: none of them are the viewer's
		}
		f.SolverID = &id
	default:
		id := v.User.ID
		f.CustomerID = &id
	}
	return store.Tickets(ctx, d.db, f, p)
}

// Queue lists the PENDING tickets for active solvers and admins.
func (d *Desk) Queue(ctx context.Context, p page.Request) ([]*models.Ticket, page.Span, error) {
	v := auth.ViewerFrom(ctx)
	if err := signedIn(v); err != nil {
		return nil, page.Span{}, err
	}
	if !canUseQueue(v) {
		return nil, page.Span{}, errQueue
	}
	if err := page.Check(p.First); err != nil {
		return nil, page.Span{}, err
	}
	return store.Queue(ctx, d.db, p)
}

// Solvers lists solver profiles. Admins only.
func (d *Desk) Solvers(ctx context.Context, status *models.SolverStatus, p page.Request) ([]*models.Solver, page.Span, error) {
	v := auth.ViewerFrom(ctx)
	if err := signedIn(v); err != nil {
		return nil, page.Span{}, err
	}
	if !CanListSolvers(v) {
		return nil, page.Span{}, apperr.New(apperr.Forbidden, "the solver list is for admins")
	}
	if err := page.Check(p.First); err != nil {
		return nil, page.Span{}, err
	}
	return store.Solvers(ctx, d.db, status, p)
}

// The single reads below serve root fields (ticket(id), session(id),
// solver(id)): they read at once, because a root field has no sibling loads
// for a loader to batch it with, and a loader would only add its window.

// Ticket returns the ticket id if the viewer may see it; NOT_FOUND otherwise.
func (d *Desk) Ticket(ctx context.Context, id string) (*models.Ticket, error) {
	t, err := store.TicketByID(ctx, d.db, id, false)
	if err != nil {
		return nil, err
	}
	if !CanSeeTicket(auth.ViewerFrom(ctx), t) {
		return nil, apperr.NotFoundf("ticket")
	}
	return t, nil
}

// Session returns the session id, with its ticket (s.Ticket), if the viewer
// may see it; NOT_FOUND otherwise.
func (d *Desk) Session(ctx context.Context, id string) (*models.Session, error) {
	s, err := store.SessionWithTicket(ctx, d.db, id)
	if err != nil {
		return nil, err
	}
	if !CanSeeSession(auth.ViewerFrom(ctx), s, s.Ticket) {
		return nil, apperr.NotFoundf("session")
	}
	return s, nil
}

// Solver returns the solver profile id to the viewers who may see solvers;
// NOT_FOUND otherwise.
func (d *Desk) Solver(ctx context.Context, id string) (*models.Solver, error) {
	if !CanSeeSolver(auth.ViewerFrom(ctx)) {
		return nil, apperr.NotFoundf("solver")
	}
	ss, err := store.SolversByIDs(ctx, d.db, []string{id})
	if err != nil {
		return nil, err
	}
	if len(ss) == 0 {
		return nil, apperr.NotFoundf("solver")
	}
	return ss[0], nil
}
