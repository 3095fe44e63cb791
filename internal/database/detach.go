package database

import (
	"context"
	"time"

	"github.com/uptrace/bun"
)

// pgx keeps the context of a connection's last statement on the connection
// (pgconn.PgConn's result reader) until its next statement. A request's
// context carries the whole request: its loaders with every row they read,
// the field contexts and values of its response. So each idle connection of
// the pool held on to the last request that used it, and the garbage
// collector marked those requests again on every cycle: about 25 MB of the
// benchmark's 33 MB live heap after a nested read, with 16 connections.
//
// Statements therefore run with a detached context: it ends when the
// request's does, with the same error, but carries none of its values except
// the statement counter, and the request stops referring to it once the
// statement is over.

// Detach returns a context that ends when parent ends (Err answers parent's
// error: context.Canceled or context.DeadlineExceeded) and carries parent's
// deadline and statement counter but no other value of parent. release ends
// the link from parent to it; after release the context is never done.
func Detach(parent context.Context) (ctx context.Context, release func()) {
	inner, cancel := context.WithCancelCause(context.Background())
	if c := CounterFrom(parent); c != nil {
		inner = context.WithValue(inner, counterKey{}, c)
	}
	d := &detached{Context: inner}
	d.deadline, d.hasDeadline = parent.Deadline()
	d.stop = context.AfterFunc(parent, func() { cancel(parent.Err()) })
	return d, d.release
}

// detached is Detach's context. It embeds a context.WithCancelCause of
// Background, so that context.AfterFunc on it (pgx watches every
// statement's context with one) takes the standard library's fast path, not
// a goroutine.
type detached struct {
	context.Context
	deadline    time.Time
	hasDeadline bool
	// stop unregisters the link from the parent. It refers to the parent
	// (through the standard library's registration), so release drops it:
	// the connection keeps d, and d must not keep the parent.
	stop func() bool
}

// release ends the link from the parent, once; the statement's goroutine
// calls it, after the statement.
func (d *detached) release() {
	if d.stop != nil {
		d.stop()
		d.stop = nil
	}
}

func (d *detached) Deadline() (time.Time, bool) { return d.deadline, d.hasDeadline }

// Err is parent's error once parent has ended (the cause Detach cancelled
// with), so a statement cut short by the request's deadline still reports
// context.DeadlineExceeded.
func (d *detached) Err() error {
	if d.Context.Err() == nil {
		return nil
	}
	return context.Cause(d.Context)
}

func (d *detached) Value(key any) any {
	if key == (detachedKey{}) {
		return d
	}
	return d.Context.Value(key)
}

type detachedKey struct{}

// detachHook runs every statement with a detached context: BeforeQuery
// detaches it, AfterQuery (the last to run: Bun runs them in reverse)
// releases it. It must be the first hook, so that every hook after it, and
// the driver, see the detached context; they keep the statement counter.
type detachHook struct{}

func (detachHook) BeforeQuery(ctx context.Context, _ *bun.QueryEvent) context.Context {
	d, _ := Detach(ctx)
	return d
}

func (detachHook) AfterQuery(ctx context.Context, _ *bun.QueryEvent) {
	if d, ok := ctx.Value(detachedKey{}).(*detached); ok {
		d.release()
	}
}
