package api

import (
	"context"
	"log/slog"
	"math"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/failsafe-go/failsafe-go/adaptivelimiter"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/observe"
)

// The adaptive line's limit starts at AdaptiveInFlight's initial value and
// moves between its bounds.
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

// AutoInFlight and AdaptiveOnly are the MAX_IN_FLIGHT modes that are not a
// number (Limits.MaxInFlight).
const (
	AutoInFlight = 0  // auto: fixed at the floor with a database near, adaptive with one far
	AdaptiveOnly = -1 // adaptive: adaptive wherever the database is
)

// NearDatabase is the round trip (the fastest of a few pings) under which
// the database counts as near: on the same host or the same rack. Requests
// then spend little of their time waiting on it, more turns than the floor
// only share the same CPUs among more requests, and a fixed floor keeps the
// tail short. The adaptive limit is for a database a network hop away
// (1-2 ms in most deployments), where the floor would leave CPUs idle.
const NearDatabase = 500 * time.Microsecond

// turns is the one line that queries and mutations wait in, over every
// transport: plain HTTP takes its turn in admit, websockets and SSE streams
// in line. Waiters are served first come first served until their deadline.
//
// With MAX_IN_FLIGHT=auto (the default) it measures the database's round
// trip once at start-up (probe) and runs fixed at AdaptiveInFlight's floor
// while the database is near, adaptive when it is far. Adaptive means
// failsafe-go's adaptive limiter, in the style of TCP Vegas and Netflix's
// concurrency-limits: the limit grows while the run time of requests stays
// at its baseline, so a replica whose requests mostly wait on a distant
// database runs more of them at once, and shrinks when run times climb with
// the number running, the sign of CPUs (or the pool) being saturated. On the
// benchmark's machine, where PostgreSQL shares the replica's two CPUs, the
// adaptive limit let bursts run a dozen requests at once and the p99 at 80 %
// load was 58-240 ms (assigned, history) against 36-46 ms fixed at the floor.
// With MAX_IN_FLIGHT=N the limit is N.
type turns struct {
	fixed    adaptivelimiter.AdaptiveLimiter[any] // nil with MAX_IN_FLIGHT=adaptive
	adaptive adaptivelimiter.AdaptiveLimiter[any] // nil with a fixed MAX_IN_FLIGHT
	far      atomic.Bool                          // the adaptive one is in use
	metrics  *observe.Metrics
}

// newTurns makes the line for MAX_IN_FLIGHT mode (a number, AutoInFlight or
// AdaptiveOnly); with AutoInFlight, ping (nil: none) measures the database's
// round trip in the background, and log reports the choice.
func newTurns(mode int, m *observe.Metrics, ping func(context.Context) error, log *slog.Logger) *turns {
	lo, initial, hi := AdaptiveInFlight()
	t := &turns{metrics: m}
	switch {
	case mode > 0:
		t.fixed = newLimiter(mode, mode, mode)
	case mode == AdaptiveOnly:
		t.adaptive = newLimiter(lo, initial, hi)
		t.far.Store(true)
	default:
		t.fixed, t.adaptive = newLimiter(lo, lo, lo), newLimiter(lo, initial, hi)
		if ping != nil {
			if log == nil {
				log = slog.Default()
			}
			go t.probe(ping, log)
		}
	}
	m.InFlightLimit(func() int { return t.limiter().Limit() })
	return t
}

func newLimiter(lo, initial, hi int) adaptivelimiter.AdaptiveLimiter[any] {
	return adaptivelimiter.NewBuilder[any]().
		WithLimits(uint(lo), uint(hi), uint(initial)).
		// At most twice the requests running (failsafe-go's default: five
		// times): more headroom let bursts run twenty at once on a replica
		// whose database shares its CPUs, and the tail grew with them.
		WithMaxLimitFactor(2).
		Build()
}

// limiter is the limiter in use.
func (t *turns) limiter() adaptivelimiter.AdaptiveLimiter[any] {
	if t.far.Load() {
		return t.adaptive
	}
	return t.fixed
}

// probe measures the database's round trip and switches to the adaptive
// limit if the database is far. Until it knows (a few milliseconds after
// start-up), the line runs at the floor; requests already running or
// waiting then finish on the fixed limiter while new ones take the adaptive
// one, so for that moment up to twice the floor may run.
func (t *turns) probe(ping func(context.Context) error, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rtt, err := roundTrip(ctx, ping)
	if err != nil {
		log.Warn("request line: the database did not answer a ping; the limit stays at the floor", "err", err)
		return
	}
	t.far.Store(rtt > NearDatabase)
	mode := "fixed at the floor (database near)"
	if t.far.Load() {
		mode = "adaptive (database far)"
	}
	log.Info("request line: "+mode, "db_round_trip_ms", float64(rtt.Microseconds())/1000, "limit", t.limiter().Limit())
}

// roundTrip is the fastest of five pings, after one that may open a
// connection: the fastest filters out a busy moment.
func roundTrip(ctx context.Context, ping func(context.Context) error) (time.Duration, error) {
	if err := ping(ctx); err != nil {
		return 0, err
	}
	best := time.Duration(math.MaxInt64)
	for range 5 {
		start := time.Now()
		if err := ping(ctx); err != nil {
			return 0, err
		}
		best = min(best, time.Since(start))
	}
	return best, nil
}

// take waits for a turn until ctx ends; without one by then it answers nil.
// The caller gives the turn back with done.
func (t *turns) take(ctx context.Context) adaptivelimiter.Permit {
	l := t.limiter()
	if p, ok := l.TryAcquirePermit(); ok {
		t.metrics.Waited(0)
		return p
	}
	start := time.Now()
	t.metrics.Waiting(1)
	p, err := l.AcquirePermit(ctx)
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
