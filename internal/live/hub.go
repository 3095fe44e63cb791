// Package live serves the GraphQL subscriptions.
package live

import (
	"context"

	"github.com/savvysolve/api/graph/model"
	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/models"
)

// Hub fans events out to subscribers.
type Hub struct{}

var errNotYet = apperr.New(apperr.Internal, "subscriptions are being built")

func (h *Hub) SessionMessages(ctx context.Context, sessionID string, after *string) (<-chan *models.SessionMessage, error) {
	return nil, errNotYet
}
func (h *Hub) TicketUpdated(ctx context.Context, ticketID string) (<-chan *models.Ticket, error) {
	return nil, errNotYet
}
func (h *Hub) Queue(ctx context.Context) (<-chan *model.TicketQueueEvent, error) {
	return nil, errNotYet
}
