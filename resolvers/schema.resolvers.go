package resolvers

import (
	"context"

	"github.com/savvysolve/api/graph"
	"github.com/savvysolve/api/graph/model"
	"github.com/savvysolve/api/internal/desk"
	"github.com/savvysolve/api/models"
)

func (r *mutationResolver) CreateTicket(ctx context.Context, input model.CreateTicketInput) (*model.CreateTicketPayload, error) {
	in := desk.CreateTicketInput{
		Description: input.Description,
		DeviceType:  input.DeviceType,
		Urgency:     models.UrgencyMedium,
	}
	if input.CustomerInfo != nil {
		in.Name, in.Email, in.Phone = input.CustomerInfo.Name, input.CustomerInfo.Email, input.CustomerInfo.Phone
	}
	if input.Urgency != nil {
		in.Urgency = *input.Urgency
	}
	t, token, err := r.Desk.CreateTicket(ctx, in)
	if err != nil {
		return nil, err
	}
	return &model.CreateTicketPayload{Ticket: t, AccessToken: token}, nil
}

func (r *queryResolver) Me(ctx context.Context) (*models.User, error) {
	return viewer(ctx).User, nil
}

func (r *subscriptionResolver) SessionMessages(ctx context.Context, sessionID string, after *string) (<-chan *models.SessionMessage, error) {
	return r.Live.SessionMessages(ctx, sessionID, after)
}

// Mutation returns graph.MutationResolver implementation.
func (r *Resolver) Mutation() graph.MutationResolver { return &mutationResolver{r} }

// Query returns graph.QueryResolver implementation.
func (r *Resolver) Query() graph.QueryResolver { return &queryResolver{r} }

// Subscription returns graph.SubscriptionResolver implementation.
func (r *Resolver) Subscription() graph.SubscriptionResolver { return &subscriptionResolver{r} }

type mutationResolver struct{ *Resolver }
type queryResolver struct{ *Resolver }
type subscriptionResolver struct{ *Resolver }
