package resolvers

import (
	"context"

	"github.com/savvysolve/api/graph"
	"github.com/savvysolve/api/graph/model"
	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/desk"
	"github.com/savvysolve/api/internal/store"
	"github.com/savvysolve/api/models"
)

func (r *mutationResolver) UpdateSolverStatus(ctx context.Context, solverID string, status models.SolverStatus) (*models.Solver, error) {
	return r.Desk.UpdateSolverStatus(ctx, solverID, status)
}

func (r *queryResolver) Solver(ctx context.Context, id string) (*models.Solver, error) {
	if !desk.CanSeeSolver(viewer(ctx)) {
		return nil, apperr.NotFoundf("solver")
	}
	return load(ctx).SolverByID.Load(ctx, id)()
}

func (r *queryResolver) Solvers(ctx context.Context, status *models.SolverStatus, first *int, after *string) (*model.SolverConnection, error) {
	p := page(first, after, 20)
	rows, total, err := r.Desk.Solvers(ctx, status, p)
	if err != nil {
		return nil, err
	}
	rows, more := trim(rows, p.First)
	c := &model.SolverConnection{Edges: make([]*model.SolverEdge, len(rows)), TotalCount: total}
	last := ""
	for i, s := range rows {
		last = store.EncodeCursor(s.CreatedAt, s.ID)
		c.Edges[i] = &model.SolverEdge{Cursor: last, Node: s}
	}
	c.PageInfo = pageInfo(more, last)
	return c, nil
}

func (r *solverResolver) User(ctx context.Context, obj *models.Solver) (*models.User, error) {
	return load(ctx).UserByID.Load(ctx, obj.UserID)()
}

func (r *solverResolver) Ratings(ctx context.Context, obj *models.Solver, first *int, after *string) (*model.RatingConnection, error) {
	p := page(first, after, 10)
	if err := desk.CheckFirst(p.First); err != nil {
		return nil, err
	}
	res, err := load(ctx).RatingPage.Load(ctx, store.RatingPage{SolverID: obj.ID, After: p.After, First: p.First})()
	if err != nil {
		return nil, err
	}
	rows, more := trim(res.Ratings, p.First)
	c := &model.RatingConnection{Edges: make([]*model.RatingEdge, len(rows)), TotalCount: res.Total}
	last := ""
	for i, rt := range rows {
		last = store.RatingCursor(rt)
		c.Edges[i] = &model.RatingEdge{Cursor: last, Node: rt}
	}
	c.PageInfo = pageInfo(more, last)
	return c, nil
}

// Solver returns graph.SolverResolver implementation.
func (r *Resolver) Solver() graph.SolverResolver { return &solverResolver{r} }

type solverResolver struct{ *Resolver }
