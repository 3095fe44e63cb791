package database

import (
	"context"
	"sync/atomic"

	"github.com/uptrace/bun"
)

// Counter counts the SQL statements run with a context that carries it. The
// server attaches one per GraphQL operation, so tests and metrics can prove
// that a request's statement count depends on its shape, not on the data.
type Counter struct{ n atomic.Int64 }

// Count returns the number of statements counted so far.
func (c *Counter) Count() int64 { return c.n.Load() }

type counterKey struct{}

// WithCounter returns a context that counts the statements run with it.
func WithCounter(ctx context.Context) (context.Context, *Counter) {
	c := &Counter{}
	return context.WithValue(ctx, counterKey{}, c), c
}

// CounterFrom returns the context's counter, or nil.
func CounterFrom(ctx context.Context) *Counter {
	c, _ := ctx.Value(counterKey{}).(*Counter)
	return c
}

type counterHook struct{}

func (counterHook) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context { return ctx }

func (counterHook) AfterQuery(ctx context.Context, _ *bun.QueryEvent) {
	if c := CounterFrom(ctx); c != nil {
		c.n.Add(1)
	}
}
