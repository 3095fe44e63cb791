package resolvers

import (
	"context"

	"github.com/savvysolve/api/graph"
	"github.com/savvysolve/api/models"
)

func (r *userResolver) Solver(ctx context.Context, obj *models.User) (*models.Solver, error) {
	return load(ctx).SolverByUserID.Load(ctx, obj.ID)()
}

// User returns graph.UserResolver implementation.
func (r *Resolver) User() graph.UserResolver { return &userResolver{r} }

type userResolver struct{ *Resolver }
