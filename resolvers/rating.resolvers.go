package resolvers

import (
	"context"

	"github.com/savvysolve/api/graph"
	"github.com/savvysolve/api/models"
)

func (r *mutationResolver) RateSession(ctx context.Context, sessionID string, rating int, comment *string) (*models.Rating, error) {
	return r.Desk.RateSession(ctx, sessionID, rating, comment)
}

// Session is checked: a solver's ratings are public, their sessions are not.
func (r *ratingResolver) Session(ctx context.Context, obj *models.Rating) (*models.Session, error) {
	return visibleSession(ctx, obj.SessionID)
}

func (r *ratingResolver) Solver(ctx context.Context, obj *models.Rating) (*models.Solver, error) {
	return load(ctx).SolverByID.Load(ctx, obj.SolverID)()
}

// Rating returns graph.RatingResolver implementation.
func (r *Resolver) Rating() graph.RatingResolver { return &ratingResolver{r} }

type ratingResolver struct{ *Resolver }
