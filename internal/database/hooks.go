package database

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"time"
	"weak"

	"github.com/uptrace/bun"
)

// Bun runs its query hooks (statement counting, and whatever tracing is
// added) around the statements it runs. The store's native reads
// (store.readRows) run on pgx directly, past Bun, so the hooks are also kept
// here, per database, for RunHooks: add hooks with AddQueryHook, not with
// bun.DB.AddQueryHook, and every statement reaches them.
var (
	hooksMu sync.RWMutex
	hooks   = map[weak.Pointer[bun.DB]][]bun.QueryHook{}
)

// AddQueryHook adds h to db's query hooks, for Bun's statements and for
// those run through RunHooks.
func AddQueryHook(db *bun.DB, h bun.QueryHook) {
	db.AddQueryHook(h)
	hooksMu.Lock()
	defer hooksMu.Unlock()
	k := weak.Make(db)
	if _, ok := hooks[k]; !ok {
		runtime.AddCleanup(db, forgetHooks, k) // the entry goes with its database
	}
	hooks[k] = append(slices.Clip(hooks[k]), h)
}

func forgetHooks(k weak.Pointer[bun.DB]) {
	hooksMu.Lock()
	defer hooksMu.Unlock()
	delete(hooks, k)
}

// RunHooks runs query on db with run, between db's query hooks, as Bun runs
// its own statements: BeforeQuery in the order the hooks were added,
// AfterQuery in reverse.
func RunHooks(ctx context.Context, db *bun.DB, query string, run func(context.Context) error) error {
	hooksMu.RLock()
	hs := hooks[weak.Make(db)]
	hooksMu.RUnlock()
	ev := &bun.QueryEvent{DB: db, Query: query, StartTime: time.Now()}
	for _, h := range hs {
		ctx = h.BeforeQuery(ctx, ev)
	}
	ev.Err = run(ctx)
	for _, h := range slices.Backward(hs) {
		h.AfterQuery(ctx, ev)
	}
	return ev.Err
}
