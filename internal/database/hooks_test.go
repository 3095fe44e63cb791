package database_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/uptrace/bun"

	"github.com/savvysolve/api/internal/database"
	"github.com/savvysolve/api/internal/dbtest"
)

type recordHook struct {
	name string
	log  *[]string
}

func (h recordHook) BeforeQuery(ctx context.Context, e *bun.QueryEvent) context.Context {
	*h.log = append(*h.log, "before "+h.name+": "+e.Query)
	return ctx
}

func (h recordHook) AfterQuery(_ context.Context, e *bun.QueryEvent) {
	*h.log = append(*h.log, fmt.Sprintf("after %s: %v", h.name, e.Err))
}

// TestRunHooks: statements run past Bun (the store's native reads) reach the
// hooks added with AddQueryHook as Bun's own do, in Bun's order, with the
// error; Bun's statements still reach them.
func TestRunHooks(t *testing.T) {
	t.Parallel()
	db := dbtest.New(t)
	var log []string
	database.AddQueryHook(db, recordHook{"a", &log})
	database.AddQueryHook(db, recordHook{"b", &log})
	failed := errors.New("failed")
	err := database.RunHooks(context.Background(), db, "SELECT 1", func(context.Context) error { return failed })
	if err != failed {
		t.Fatalf("RunHooks returned %v", err)
	}
	want := []string{"before a: SELECT 1", "before b: SELECT 1", "after b: failed", "after a: failed"}
	if !slices.Equal(log, want) {
		t.Fatalf("hooks ran %q, want %q", log, want)
	}
	log = nil
	var n int
	_ = db.NewRaw("SELECT 2 WHERE false").Scan(context.Background(), &n)
	if len(log) != 4 {
		t.Fatalf("a Bun statement reached the hooks %d times, want 4: %q", len(log), log)
	}
}
