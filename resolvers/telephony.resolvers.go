package resolvers

import (
	"context"

	"github.com/savvysolve/api/graph"
	"github.com/savvysolve/api/models"
)

func (r *callLogResolver) Session(ctx context.Context, obj *models.CallLog) (*models.Session, error) {
	return optionalSession(ctx, obj.SessionID)
}

func (r *screenShareSessionResolver) Session(ctx context.Context, obj *models.ScreenShareSession) (*models.Session, error) {
	return load(ctx).SessionByID.Load(ctx, obj.SessionID)()
}

func (r *smsLogResolver) Ticket(ctx context.Context, obj *models.SmsLog) (*models.Ticket, error) {
	if obj.TicketID == nil {
		return nil, nil
	}
	return visibleTicket(ctx, *obj.TicketID)
}

func (r *smsLogResolver) Session(ctx context.Context, obj *models.SmsLog) (*models.Session, error) {
	return optionalSession(ctx, obj.SessionID)
}

// CallLog returns graph.CallLogResolver implementation.
func (r *Resolver) CallLog() graph.CallLogResolver { return &callLogResolver{r} }

// ScreenShareSession returns graph.ScreenShareSessionResolver implementation.
func (r *Resolver) ScreenShareSession() graph.ScreenShareSessionResolver {
	return &screenShareSessionResolver{r}
}

// SmsLog returns graph.SmsLogResolver implementation.
func (r *Resolver) SmsLog() graph.SmsLogResolver { return &smsLogResolver{r} }

type callLogResolver struct{ *Resolver }
type screenShareSessionResolver struct{ *Resolver }
type smsLogResolver struct{ *Resolver }
