package api

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"golang.org/x/time/rate"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/auth"
)

// maxBuckets bounds the limiters kept per kind; past it the least recently
// used one is forgotten (its client starts again with a full bucket).
const maxBuckets = 10000

// rateLimit refuses mutations past a rate, before any resolver runs. Every
// root field of a mutation counts, so aliases cannot batch past the limit.
// Signed-in users are counted per user, ticket tokens per ticket (both at
// RateUser), and everything else per client IP (at RateAnon): anonymous
// mutations, and createTicket without a user token, whatever token comes with
// it (a guest cannot mint fresh keys by opening tickets).
type rateLimit struct {
	anon, user *buckets // nil: unlimited
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationContextMutator
} = rateLimit{}

func newRateLimit(l Limits) rateLimit {
	return rateLimit{anon: newBuckets(l.RateAnon), user: newBuckets(l.RateUser)}
}

func (rateLimit) ExtensionName() string                          { return "RateLimit" }
func (rateLimit) Validate(schema graphql.ExecutableSchema) error { return nil }

func (rl rateLimit) MutateOperationContext(ctx context.Context, op *graphql.OperationContext) *gqlerror.Error {
	if op.Operation.Operation != ast.Mutation {
		return nil
	}
	n, createsTicket := rootFields(op.Operation.SelectionSet)
	if n == 0 {
		return nil
	}
	v := auth.ViewerFrom(ctx)
	b, key := rl.anon, "ip:"+clientKey(ctx)
	switch {
	case v.User != nil:
		b, key = rl.user, "user:"+v.User.ID
	case v.TicketID != "" && !createsTicket:
		b, key = rl.user, "ticket:"+v.TicketID
	}
	if b == nil {
		return nil
	}
	if n > b.perMinute {
		setReply(ctx, http.StatusTooManyRequests, "Retry-After", "60")
		err := refusal(apperr.RateLimited, "", op.Operation.Position,
			"too many changes in one request: at most %d per minute", b.perMinute)
		err.Extensions["retryAfter"] = 60
		return err
	}
	wait := b.take(key, n, time.Now())
	if wait <= 0 {
		return nil
	}
	secs := int(math.Ceil(wait.Seconds()))
	setReply(ctx, http.StatusTooManyRequests, "Retry-After", strconv.Itoa(secs))
	err := refusal(apperr.RateLimited, "", op.Operation.Position,
		"too many changes: at most %d per minute; try again in %d s", b.perMinute, secs)
	err.Extensions["retryAfter"] = secs
	return err
}

// rootFields counts a mutation's root fields (fragments expanded, __typename
// aside) and tells whether one of them is createTicket. The guard has already
// bounded the fields, so the walk is short.
func rootFields(set ast.SelectionSet) (n int, createsTicket bool) {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name != "__typename" {
				n++
			}
			createsTicket = createsTicket || s.Name == "createTicket"
		case *ast.FragmentSpread:
			if s.Definition != nil {
				m, c := rootFields(s.Definition.SelectionSet)
				n, createsTicket = n+m, createsTicket || c
			}
		case *ast.InlineFragment:
			m, c := rootFields(s.SelectionSet)
			n, createsTicket = n+m, createsTicket || c
		}
	}
	return n, createsTicket
}

// buckets are token buckets per key: perMinute tokens, refilled over a minute.
type buckets struct {
	perMinute int
	mu        sync.Mutex
	lru       *simplelru.LRU[string, *rate.Limiter]
}

func newBuckets(perMinute int) *buckets {
	if perMinute <= 0 {
		return nil
	}
	l, err := simplelru.NewLRU[string, *rate.Limiter](maxBuckets, nil)
	if err != nil {
		panic(err) // only for a size <= 0
	}
	return &buckets{perMinute: perMinute, lru: l}
}

// take takes n tokens from key's bucket. It returns 0 when they were there,
// or else how long until they will be (taking nothing).
func (b *buckets) take(key string, n int, now time.Time) time.Duration {
	b.mu.Lock()
	l, ok := b.lru.Get(key)
	if !ok {
		l = rate.NewLimiter(rate.Limit(float64(b.perMinute)/60), b.perMinute)
		b.lru.Add(key, l)
	}
	b.mu.Unlock()
	r := l.ReserveN(now, n) // n <= the burst: always OK
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return d
	}
	return 0
}
