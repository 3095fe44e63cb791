// Package resolvers binds the GraphQL schema to the domain: thin functions
// that take arguments in, call the desk (operations, read rules) or the
// loaders, and hand models out. No SQL lives here.
package resolvers

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
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

// edges returns the edges of a page of rows (the page exactly: trimmed),
// whose cursors cursor encodes, and its PageInfo.
func edges[T any](rows []T, cursor func(T) string, hasPrevious, hasNext bool) ([]*model.Edge[T], *model.PageInfo) {
	es := model.NewEdges(rows, cursor)
	pi := &model.PageInfo{HasPreviousPage: hasPrevious, HasNextPage: hasNext}
	if len(rows) > 0 {
		first, last := cursor(rows[0]), cursor(rows[len(rows)-1])
		pi.StartCursor, pi.EndCursor = &first, &last
	}
	return es, pi
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
	c := &model.TicketConnection{TotalCount: sp.Total}
	c.Edges, c.PageInfo = edges(rows, cursor, sp.Previous, more)
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
	c := &model.SessionConnection{TotalCount: sp.Total}
	c.Edges, c.PageInfo = edges(rows, desk.SessionCursor, sp.Previous, more)
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

// pageOf is the page a root list field asks for. A client that asks for
// neither totalCount nor pageInfo's hasPreviousPage gets its page without
// the count, a statement that reads every matching row.
func pageOf(ctx context.Context, first *int, after *string) page.Request {
	p := page.New(first, after, 20)
	p.Uncounted = !asksSpan(ctx)
	return p
}

// asksSpan says whether the connection field being resolved selects
// totalCount or pageInfo { hasPreviousPage }.
func asksSpan(ctx context.Context) bool {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Field.Definition == nil || !graphql.HasOperationContext(ctx) {
		return true
	}
	op := graphql.GetOperationContext(ctx)
	for _, f := range graphql.CollectFields(op, fc.Field.Selections, []string{fc.Field.Definition.Type.Name()}) {
		switch f.Name {
		case "totalCount":
			return true
		case "pageInfo":
			for _, p := range graphql.CollectFields(op, f.Selections, []string{"PageInfo"}) {
				if p.Name == "hasPreviousPage" {
					return true
				}
			}
		}
	}
	return false
}
