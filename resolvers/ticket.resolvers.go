package resolvers

import (
	"context"

	"github.com/savvysolve/api/graph"
	"github.com/savvysolve/api/graph/model"
	"github.com/savvysolve/api/internal/desk"
	"github.com/savvysolve/api/internal/store"
	"github.com/savvysolve/api/models"
)

func (r *mutationResolver) ClaimTicket(ctx context.Context, ticketID string) (*models.Ticket, error) {
	return r.Desk.ClaimTicket(ctx, ticketID)
}

func (r *mutationResolver) CancelTicket(ctx context.Context, ticketID string, reason *string) (*models.Ticket, error) {
	return r.Desk.CancelTicket(ctx, ticketID, reason)
}

func (r *mutationResolver) RefundTicket(ctx context.Context, ticketID string, reason *string) (*models.Ticket, error) {
	return r.Desk.RefundTicket(ctx, ticketID, reason)
}

func (r *queryResolver) Ticket(ctx context.Context, id string) (*models.Ticket, error) {
	return visibleTicket(ctx, id)
}

func (r *queryResolver) Tickets(ctx context.Context, filter *model.TicketFilter, first *int, after *string) (*model.TicketConnection, error) {
	var f store.TicketFilter
	if filter != nil {
		f = store.TicketFilter{Status: filter.Status, Urgency: filter.Urgency, DeviceType: filter.DeviceType, SolverID: filter.SolverID}
		if filter.Search != nil {
			f.Search = *filter.Search
		}
	}
	p := page(first, after, 20)
	rows, total, err := r.Desk.Tickets(ctx, f, p)
	if err != nil {
		return nil, err
	}
	return ticketConnection(ctx, rows, total, p.First, store.TicketCursor), nil
}

func (r *queryResolver) TicketQueue(ctx context.Context, first *int, after *string) (*model.TicketConnection, error) {
	p := page(first, after, 20)
	rows, total, err := r.Desk.Queue(ctx, p)
	if err != nil {
		return nil, err
	}
	return ticketConnection(ctx, rows, total, p.First, store.QueueCursor), nil
}

func (r *subscriptionResolver) TicketUpdated(ctx context.Context, ticketID string) (<-chan *models.Ticket, error) {
	return r.Live.TicketUpdated(ctx, ticketID)
}

func (r *subscriptionResolver) TicketQueue(ctx context.Context) (<-chan *model.TicketQueueEvent, error) {
	return r.Live.Queue(ctx)
}

func (r *ticketResolver) CustomerInfo(ctx context.Context, obj *models.Ticket) (*models.CustomerInfo, error) {
	if !desk.CanSeeContact(viewer(ctx), obj) {
		return nil, nil
	}
	return &obj.CustomerInfo, nil
}

func (r *ticketResolver) Solver(ctx context.Context, obj *models.Ticket) (*models.Solver, error) {
	if obj.SolverID == nil {
		return nil, nil
	}
	return load(ctx).SolverByID.Load(ctx, *obj.SolverID)()
}

func (r *ticketResolver) Sessions(ctx context.Context, obj *models.Ticket) ([]*models.Session, error) {
	all, err := load(ctx).SessionsByTicket.Load(ctx, obj.ID)()
	if err != nil {
		return nil, err
	}
	load(ctx).PrimeSessions(ctx, all)
	v := viewer(ctx)
	seen := make([]*models.Session, 0, len(all))
	for _, s := range all {
		if desk.CanSeeSession(v, s, obj) {
			seen = append(seen, s)
		}
	}
	return seen, nil
}

func (r *ticketResolver) SmsLogs(ctx context.Context, obj *models.Ticket) ([]*models.SmsLog, error) {
	if !desk.CanSeeContact(viewer(ctx), obj) {
		return []*models.SmsLog{}, nil // texts carry contact details
	}
	logs, err := load(ctx).SmsLogsByTicket.Load(ctx, obj.ID)()
	if logs == nil {
		logs = []*models.SmsLog{}
	}
	return logs, err
}

// Ticket returns graph.TicketResolver implementation.
func (r *Resolver) Ticket() graph.TicketResolver { return &ticketResolver{r} }

type ticketResolver struct{ *Resolver }
