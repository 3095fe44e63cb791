package resolvers

import (
	"context"

	"github.com/savvysolve/api/graph"
	"github.com/savvysolve/api/graph/model"
	"github.com/savvysolve/api/internal/desk"
	"github.com/savvysolve/api/internal/store"
	"github.com/savvysolve/api/models"
)

func (r *mutationResolver) StartSession(ctx context.Context, ticketID string, tier *models.TicketTier) (*models.Session, error) {
	t := models.TierStandard
	if tier != nil {
		t = *tier
	}
	return r.Desk.StartSession(ctx, ticketID, t)
}

func (r *mutationResolver) SendMessage(ctx context.Context, sessionID string, body string) (*models.SessionMessage, error) {
	return r.Desk.SendMessage(ctx, sessionID, body)
}

func (r *mutationResolver) EndSession(ctx context.Context, sessionID string) (*models.Session, error) {
	return r.Desk.EndSession(ctx, sessionID)
}

func (r *queryResolver) Session(ctx context.Context, id string) (*models.Session, error) {
	return visibleSession(ctx, id)
}

func (r *sessionResolver) Ticket(ctx context.Context, obj *models.Session) (*models.Ticket, error) {
	return load(ctx).TicketByID.Load(ctx, obj.TicketID)()
}

func (r *sessionResolver) Solver(ctx context.Context, obj *models.Session) (*models.Solver, error) {
	return load(ctx).SolverByID.Load(ctx, obj.SolverID)()
}

func (r *sessionResolver) Messages(ctx context.Context, obj *models.Session, first *int, after *string) (*model.SessionMessageConnection, error) {
	p := page(first, after, 50)
	if err := desk.CheckFirst(p.First); err != nil {
		return nil, err
	}
	afterSeq := 0
	if p.After != "" {
		var err error
		if afterSeq, err = store.MessageCursorSeq(p.After); err != nil {
			return nil, err
		}
	}
	rows, err := load(ctx).MessagePage.Load(ctx, store.MessagePage{SessionID: obj.ID, AfterSeq: afterSeq, First: p.First})()
	if err != nil {
		return nil, err
	}
	rows, more := trim(rows, p.First)
	c := &model.SessionMessageConnection{Edges: make([]*model.SessionMessageEdge, len(rows))}
	last := ""
	for i, m := range rows {
		last = store.MessageCursor(m)
		c.Edges[i] = &model.SessionMessageEdge{Cursor: last, Node: m}
	}
	c.PageInfo = pageInfo(more, last)
	return c, nil
}

func (r *sessionResolver) CallLogs(ctx context.Context, obj *models.Session) ([]*models.CallLog, error) {
	logs, err := load(ctx).CallLogsBySession.Load(ctx, obj.ID)()
	if logs == nil {
		logs = []*models.CallLog{}
	}
	return logs, err
}

func (r *sessionResolver) ScreenShares(ctx context.Context, obj *models.Session) ([]*models.ScreenShareSession, error) {
	s, err := load(ctx).ScreenSharesBySession.Load(ctx, obj.ID)()
	if s == nil {
		s = []*models.ScreenShareSession{}
	}
	return s, err
}

func (r *sessionResolver) Rating(ctx context.Context, obj *models.Session) (*models.Rating, error) {
	return load(ctx).RatingBySession.Load(ctx, obj.ID)()
}

func (r *sessionMessageResolver) Session(ctx context.Context, obj *models.SessionMessage) (*models.Session, error) {
	return load(ctx).SessionByID.Load(ctx, obj.SessionID)()
}

func (r *sessionMessageResolver) Author(ctx context.Context, obj *models.SessionMessage) (*models.User, error) {
	if obj.AuthorID == nil {
		return nil, nil
	}
	return load(ctx).UserByID.Load(ctx, *obj.AuthorID)()
}

// Session returns graph.SessionResolver implementation.
func (r *Resolver) Session() graph.SessionResolver { return &sessionResolver{r} }

// SessionMessage returns graph.SessionMessageResolver implementation.
func (r *Resolver) SessionMessage() graph.SessionMessageResolver { return &sessionMessageResolver{r} }

type sessionResolver struct{ *Resolver }
type sessionMessageResolver struct{ *Resolver }
