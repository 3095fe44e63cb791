package database_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
	"weak"

	"github.com/savvysolve/api/internal/database"
	"github.com/savvysolve/api/internal/dbtest"
)

// A statement's context does not outlive it: pgx keeps the context of a
// connection's last statement, and a request's context carries the request.
func TestStatementsKeepNoContextValue(t *testing.T) {
	t.Parallel()
	db, err := database.Open(context.Background(), dbtest.NewURL(t, true), database.Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	type key struct{}
	request := func() weak.Pointer[[1 << 20]byte] {
		big := new([1 << 20]byte)
		ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, big))
		defer cancel()
		ctx, counter := database.WithCounter(ctx)
		var n int
		if err := db.NewSelect().ColumnExpr("1").Scan(ctx, &n); err != nil {
			t.Fatal(err)
		}
		if counter.Count() != 1 {
			t.Errorf("counted %d statements, want 1", counter.Count())
		}
		return weak.Make(big)
	}
	wp := request()
	runtime.GC()
	if wp.Value() != nil {
		t.Fatal("the idle connection still holds the last statement's context")
	}
}

// A detached context ends with its parent, with the parent's error, and has
// none of its values but the statement counter.
func TestDetach(t *testing.T) {
	t.Parallel()
	type key struct{}
	parent, counter := database.WithCounter(context.WithValue(context.Background(), key{}, "v"))
	parent, cancel := context.WithTimeout(parent, 20*time.Millisecond)
	defer cancel()
	ctx, release := database.Detach(parent)
	defer release()
	if ctx.Value(key{}) != nil {
		t.Error("a value of the parent came along")
	}
	if database.CounterFrom(ctx) != counter {
		t.Error("the statement counter did not come along")
	}
	if d, _ := ctx.Deadline(); d.IsZero() {
		t.Error("no deadline")
	}
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("did not end with its parent")
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		t.Errorf("Err() = %v, want the parent's deadline", ctx.Err())
	}

	// Released, it no longer follows the parent.
	parent2, cancel2 := context.WithCancel(context.Background())
	ctx2, release2 := database.Detach(parent2)
	release2()
	cancel2()
	// The link would cancel from a goroutine of its own: give it time to.
	select {
	case <-ctx2.Done():
		t.Errorf("a released context ended with its parent: %v", ctx2.Err())
	case <-time.After(100 * time.Millisecond):
	}
}
