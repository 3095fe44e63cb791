package api

import (
	"context"
	"runtime"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/failsafe-go/failsafe-go/adaptivelimiter"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/observe"
)

// The adaptive line's limit (MAX_IN_FLIGHT unset, 0 or auto) starts at
// AdaptiveInFlight's initial value and moves between its bounds.
const maxInFlight = 200 // failsafe-go's default ceiling

// AdaptiveInFlight returns the bounds and the initial value of the adaptive
// limit on queries and mutations running at once. The floor is twice the CPUs
// Go may use (the fixed default before the limit adapted): fewer would leave
// CPUs idle while every request waits on the database. It starts there and
// grows while run times allow, as TCP's slow start does: starting high
// overloads the CPUs of a replica whose database is near until the limit
// comes down.
func AdaptiveInFlight() (lo, initial, hi int) {
	lo = 2 * runtime.GOMAXPROCS(0)
	return lo, lo, max(lo, maxInFlight)
}

// turns is the one line that queries and mutations wait in, over every
// transport: plain HTTP takes its turn in admit, websockets and SSE streams
// in line. Waiters are served first come first served until their deadline.
//
// The number of turns adapts to latency (failsafe-go's adaptive limiter, in
// the style of TCP Vegas and Netflix's concurrency-limits): it grows while
// the run time of requests stays at its baseline, so a replica whose requests
// mostly wait on a distant database runs more of them at once, and shrinks
// when run times climb with the number running, which is the sign of
// CPUs (or the pool) being saturated. With MAX_IN_FLIGHT=N the floor, the
// ceiling and the start are all N: a fixed limit.
type turns struct {
	limiter adaptivelimiter.AdaptiveLimiter[any]
	metrics *observe.Metrics
}

func newTurns(fixed int, m *observe.Metrics) *turns {
	lo, initial, hi := AdaptiveInFlight()
	if fixed > 0 {
		lo, initial, hi = fixed, fixed, fixed
	}
	l := adaptivelimiter.NewBuilder[any]().
		WithLimits(uint(lo), uint(hi), uint(initial)).
		// At most twice the requests running (failsafe-go's default: five
		// times): more headroom let bursts run twenty at once on a replica
		// whose database shares its CPUs, and the tail grew with them.
		WithMaxLimitFactor(2).
		Build()
	m.InFlightLimit(l.Limit)
	return &turns{limiter: l, metrics: m}
}

// take waits for a turn until ctx ends; without one by then it answers nil.
// The caller gives the turn back with done.
func (t *turns) take(ctx context.Context) adaptivelimiter.Permit {
	if p, ok := t.limiter.TryAcquirePermit(); ok {
		t.metrics.Waited(0)
		return p
	}
	start := time.Now()
	t.metrics.Waiting(1)
	p, err := t.limiter.AcquirePermit(ctx)
	t.metrics.Waiting(-1)
	t.metrics.Waited(time.Since(start))
	if err != nil {
		return nil
	}
	return p
}

// done gives a turn back. Its run time teaches the limiter, unless ctx ended
// first: a request cut short by its deadline (or by its client leaving) is
// dropped, so that neither the deadline nor an early exit passes for a run time.
func done(ctx context.Context, p adaptivelimiter.Permit) {
	if ctx.Err() != nil {
		p.Drop()
		return
	}
	p.Record()
}

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
	turns   *turns
	timeout time.Duration
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
		turn := l.turns.take(ctx)
		if turn == nil {
			err := gqlerror.Errorf("the server is busy; try again")
			err.Extensions = map[string]any{"code": string(apperr.Unavailable), "retryAfter": 1}
			return &graphql.Response{Errors: gqlerror.List{err}}
		}
		defer done(ctx, turn)
		return h(ctx)
	}
}
