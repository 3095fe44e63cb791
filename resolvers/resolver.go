// Package resolvers binds the GraphQL schema to the domain: thin functions
// that take arguments in, call the desk (operations, read rules) or the
// loaders, and hand models out. No SQL lives here.
package resolvers

import (
	"context"

	"github.com/savvysolve/api/graph/model"
	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/desk"
	"github.com/savvysolve/api/internal/live"
	"github.com/savvysolve/api/internal/page"
	"github.com/savvysolve/api/loaders"
	"github.com/savvysolve/api/models"
)

// Resolver holds the dependencies of the resolvers.
type Resolver struct {
	Desk *desk.Desk
	Live *live.Hub
}

func viewer(ctx context.Context) auth.Viewer { return auth.ViewerFrom(ctx) }

func load(ctx context.Context) *loaders.Loaders { return loaders.From(ctx) }

// pageInfo is the PageInfo of a page of rows (the page exactly: trimmed).
func pageInfo[T any](rows []T, cursor func(T) string, hasPrevious, hasNext bool) *model.PageInfo {
	pi := &model.PageInfo{HasPreviousPage: hasPrevious, HasNextPage: hasNext}
	if len(rows) > 0 {
		first, last := cursor(rows[0]), cursor(rows[len(rows)-1])
		pi.StartCursor, pi.EndCursor = &first, &last
	}
	return pi
}

// trim cuts the extra row that store pages read to learn whether more follow.
func trim[T any](rows []T, first int) ([]T, bool) {
	if len(rows) > first {
		return rows[:first], true
	}
	return rows, false
}

func ticketConnection(ctx context.Context, rows []*models.Ticket, sp page.Span, first int, cursor func(*models.Ticket) string) *model.TicketConnection {
	rows, more := trim(rows, first)
	load(ctx).PrimeTickets(ctx, rows)
	load(ctx).Ahead(ctx, rows)
	c := &model.TicketConnection{Edges: make([]*model.TicketEdge, len(rows)), TotalCount: sp.Total}
	for i, t := range rows {
		c.Edges[i] = model.NewEdge(t, cursor)
	}
	c.PageInfo = pageInfo(rows, cursor, sp.Previous, more)
	return c
}

// sessionConnection is a page of sessions (rows may hold the extra row); a
// root field reads the relations below it ahead (a nested one was read ahead
// with its root).
func sessionConnection(ctx context.Context, rows []*models.Session, sp page.Span, first int, root bool) *model.SessionConnection {
	rows, more := trim(rows, first)
	load(ctx).PrimeSessions(ctx, rows)
	if root {
		load(ctx).Ahead(ctx, rows)
	}
	c := &model.SessionConnection{Edges: make([]*model.SessionEdge, len(rows)), TotalCount: sp.Total}
	for i, s := range rows {
		c.Edges[i] = model.NewEdge(s, desk.SessionCursor)
	}
	c.PageInfo = pageInfo(rows, desk.SessionCursor, sp.Previous, more)
	return c
}

// visibleTicket loads a ticket the viewer may see; NOT_FOUND otherwise.
func visibleTicket(ctx context.Context, id string) (*models.Ticket, error) {
	t, err := load(ctx).TicketByID.Load(ctx, id)()
	if err != nil {
		return nil, err
	}
	if !desk.CanSeeTicket(viewer(ctx), t) {
		return nil, apperr.NotFoundf("ticket")
	}
	return t, nil
}

// visibleSession loads a session the viewer may see; NOT_FOUND otherwise.
func visibleSession(ctx context.Context, id string) (*models.Session, error) {
	s, err := load(ctx).SessionByID.Load(ctx, id)()
	if err != nil {
		return nil, err
	}
	t, err := load(ctx).TicketByID.Load(ctx, s.TicketID)()
	if err != nil {
		return nil, err
	}
	if !desk.CanSeeSession(viewer(ctx), s, t) {
		return nil, apperr.NotFoundf("session")
	}
	return s, nil
}

// optionalSession loads a nullable session link.
func optionalSession(ctx context.Context, id *string) (*models.Session, error) {
	if id == nil {
		return nil, nil
	}
	return visibleSession(ctx, *id)
}
