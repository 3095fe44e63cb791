package api

import (
	"context"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"golang.org/x/sync/semaphore"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/observe"
)

// turnKey marks a request that already holds a turn (plain HTTP takes it
// before reading the body: see plainHTTP).
type turnKey struct{}

// line makes queries and mutations that arrive over a websocket or an SSE
// stream wait for a turn in the same line as plain HTTP requests
// (MAX_IN_FLIGHT), with the same deadline (REQUEST_TIMEOUT) for waiting and
// running. Their complexity and rate limits are the executor's, as for every
// transport. Subscription events do not take turns: they are the server's
// pushes, already batched.
type line struct {
	running *semaphore.Weighted
	timeout time.Duration
	metrics *observe.Metrics
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = line{}

func (line) ExtensionName() string                          { return "Line" }
func (line) Validate(schema graphql.ExecutableSchema) error { return nil }

func (l line) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	h := next(ctx)
	op := graphql.GetOperationContext(ctx)
	if ctx.Value(turnKey{}) != nil || op.Operation == nil || op.Operation.Operation == ast.Subscription {
		return h
	}
	first := true
	return func(ctx context.Context) *graphql.Response {
		if !first { // a second call answers nil at once (or a deferred part)
			return h(ctx)
		}
		first = false
		ctx, cancel := context.WithTimeout(ctx, l.timeout)
		defer cancel()
		if !l.wait(ctx) {
			err := gqlerror.Errorf("the server is busy; try again")
			err.Extensions = map[string]any{"code": string(apperr.Internal), "retryAfter": 1}
			return &graphql.Response{Errors: gqlerror.List{err}}
		}
		defer l.running.Release(1)
		return h(ctx)
	}
}

// wait takes a turn, waiting until ctx ends at the latest.
func (l line) wait(ctx context.Context) bool {
	if l.running.TryAcquire(1) {
		l.metrics.Waited(0)
		return true
	}
	start := time.Now()
	l.metrics.Waiting(1)
	err := l.running.Acquire(ctx, 1)
	l.metrics.Waiting(-1)
	l.metrics.Waited(time.Since(start))
	return err == nil
}
