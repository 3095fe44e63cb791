// Package loaders batches the reads of relation fields: every loader turns the
// loads of one resolution level into one SQL statement, so a request's
// statement count follows the shape of its query, not the number of rows.
//
// A Loaders set lives for one query or mutation; subscriptions share one set
// without a cache (see internal/api). Batch functions never decide who may
// see what: they run with the first caller's context; resolvers authorize.
package loaders

import (
	"context"
	"time"

	"github.com/graph-gophers/dataloader/v7"
	"github.com/uptrace/bun"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/store"
	"github.com/savvysolve/api/models"
)

// Loaders is the set of loaders of one operation.
type Loaders struct {
	UserByID              *Loader[string, *models.User]
	SolverByID            *Loader[string, *models.Solver]
	SolverByUserID        *Loader[string, *models.Solver] // nil when the user is no solver
	TicketByID            *Loader[string, *models.Ticket]
	SessionByID           *Loader[string, *models.Session]
	SessionsByTicket      *Loader[string, []*models.Session]
	SmsLogsByTicket       *Loader[string, []*models.SmsLog]
	CallLogsBySession     *Loader[string, []*models.CallLog]
	ScreenSharesBySession *Loader[string, []*models.ScreenShareSession]
	RatingBySession       *Loader[string, *models.Rating] // nil when not rated
	MessageByID           *Loader[string, *models.SessionMessage]
	MessagePage           *Loader[store.MessagePage, MessageWindow]
	RatingPage            *Loader[store.SolverPage, SolverPage[models.Rating]]
	SessionPage           *Loader[store.SolverPage, SolverPage[models.Session]]
	CallLogsByTicket      *Loader[string, []*models.CallLog]

	ahead  bool // Ahead reads relations ahead (off without a cache)
	inline bool // Options.Inline
}

// Loader is a dataloader that can also fill a whole level at once (Fill):
// the batch function is called directly with every key of the level and the
// results go into the cache, so resolvers find them without waiting for a
// batch window.
type Loader[K comparable, V any] struct {
	*dataloader.Loader[K, V]
	batch  dataloader.BatchFunc[K, V]
	cache  dataloader.Cache[K, V]
	inline bool // Options.Inline
}

// SolverPage is a page of a solver's rows (its ratings, its sessions): up to
// First+1 of them, their total and whether rows come before the page.
type SolverPage[T any] struct {
	Rows     []*T
	Total    int
	Previous bool
}

// MessageWindow is a page of a session's messages, oldest first (exactly the
// page: no extra row), and whether messages come before and after it.
type MessageWindow struct {
	Messages             []*models.SessionMessage
	HasPrevious, HasNext bool
}

// DefaultWait is Options.Wait's default.
const DefaultWait = time.Millisecond

// Options tune the loaders.
type Options struct {
	// Wait (LOADER_WAIT) is how long a loader collects keys before it runs
	// its batch; 0: DefaultWait.
	Wait time.Duration
	// NoCache turns the per-operation cache off (subscriptions: every event
	// must see fresh rows).
	NoCache bool
	// Observe, when set, is told the size of every batch (metrics).
	Observe func(loader string, size int)
	// Inline resolves the operation on one goroutine (see Inline): for
	// queries, whose root fields read every level ahead. A key that was not
	// read ahead is then read at once, alone, instead of waiting for a batch
	// window that no other goroutine could join. Needs the cache.
	Inline bool
	// Detached runs batches apart from the cancellation of the operation
	// whose load started them (with their own deadline), for a set shared by
	// many operations: one leaving must not fail the others' loads.
	Detached bool
	// Disabled switches batching off, for the benchmark only (bench/ sets it
	// through a build overlay; no configuration does): every Load runs its own statement at once,
	// with no per-operation cache, as resolvers that query directly would. It
	// shows what batching saves; never set it otherwise.
	Disabled bool
}

// inputCapacity buffers the keys on their way to a batch, which reads them
// as they come. The library's default (1,000) allocated 8 KiB for every
// batch, most of what a page of tickets allocated in its loaders.
const inputCapacity = 64

// detachedTimeout bounds a detached batch (Options.Detached).
const detachedTimeout = 10 * time.Second

// New returns a fresh set of loaders on db.
func New(db bun.IDB, o Options) *Loaders {
	if o.Wait == 0 {
		o.Wait = DefaultWait
	}
	return &Loaders{
		UserByID:              byID(o, "user", db, store.UsersByIDs, func(u *models.User) string { return u.ID }),
		SolverByID:            byID(o, "solver", db, store.SolversByIDs, func(s *models.Solver) string { return s.ID }),
		SolverByUserID:        optional(o, "solverByUser", db, store.SolversByUserIDs, func(s *models.Solver) string { return s.UserID }),
		TicketByID:            byID(o, "ticket", db, store.TicketsByIDs, func(t *models.Ticket) string { return t.ID }),
		SessionByID:           byID(o, "session", db, store.SessionsByIDs, func(s *models.Session) string { return s.ID }),
		SessionsByTicket:      grouped(o, "sessionsByTicket", db, store.SessionsByTicketIDs, func(s *models.Session) string { return s.TicketID }),
		SmsLogsByTicket:       grouped(o, "smsLogsByTicket", db, store.SmsLogsByTicketIDs, func(l *models.SmsLog) string { return deref(l.TicketID) }),
		CallLogsBySession:     grouped(o, "callLogsBySession", db, store.CallLogsBySessionIDs, func(l *models.CallLog) string { return deref(l.SessionID) }),
		ScreenSharesBySession: grouped(o, "screenSharesBySession", db, store.ScreenSharesBySessionIDs, func(l *models.ScreenShareSession) string { return l.SessionID }),
		RatingBySession:       optional(o, "ratingBySession", db, store.RatingsBySessionIDs, func(r *models.Rating) string { return r.SessionID }),
		MessageByID:           byID(o, "message", db, store.MessagesByIDs, func(m *models.SessionMessage) string { return m.ID }),
		MessagePage:           newLoader(o, "messagePage", messagePages(db)),
		RatingPage: newLoader(o, "ratingPage", solverPages(db, store.RatingPages, func(r *store.RatingRow) (int, int, bool, string, *models.Rating) {
			return r.Key, r.Total, r.Previous, r.ID, &r.Rating
		})),
		SessionPage: newLoader(o, "sessionPage", solverPages(db, store.SessionPages, func(r *store.SessionRow) (int, int, bool, string, *models.Session) {
			return r.Key, r.Total, r.Previous, r.ID, &r.Session
		})),
		CallLogsByTicket: grouped(o, "callLogsByTicket", db, store.CallLogsByTicketIDs, func(l *models.CallLog) string { return deref(l.TicketID) }),
		ahead:            !o.NoCache && !o.Disabled,
		inline:           o.inline(),
	}
}

func newLoader[K comparable, V any](o Options, name string, f dataloader.BatchFunc[K, V]) *Loader[K, V] {
	if o.Detached {
		inner := f
		f = func(ctx context.Context, keys []K) []*dataloader.Result[V] {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), detachedTimeout)
			defer cancel()
			return inner(ctx, keys)
		}
	}
	if o.Observe != nil {
		inner := f
		f = func(ctx context.Context, keys []K) []*dataloader.Result[V] {
			o.Observe(name, len(keys))
			return inner(ctx, keys)
		}
	}
	var cache dataloader.Cache[K, V] = dataloader.NewCache[K, V]()
	if o.NoCache || o.Disabled {
		cache = &dataloader.NoCache[K, V]{}
	}
	opts := []dataloader.Option[K, V]{
		dataloader.WithWait[K, V](o.Wait),
		dataloader.WithInputCapacity[K, V](inputCapacity),
		dataloader.WithCache(cache),
	}
	if o.Disabled { // a batch of one runs as soon as its key arrives
		opts = append(opts, dataloader.WithBatchCapacity[K, V](1))
	}
	return &Loader[K, V]{Loader: dataloader.NewBatchedLoader(f, opts...), batch: f, cache: cache, inline: o.inline()}
}

func (o Options) inline() bool { return o.Inline && !o.NoCache && !o.Disabled }

// Load returns a thunk for key k's value. In an operation resolved inline,
// a key that was not read ahead is read at once: with one goroutine nothing
// else would join its batch, and the window would only add latency.
func (l *Loader[K, V]) Load(ctx context.Context, k K) dataloader.Thunk[V] {
	if !l.inline {
		return l.Loader.Load(ctx, k)
	}
	if thunk, ok := l.cache.Get(ctx, k); ok {
		return thunk
	}
	l.Fill(ctx, []K{k})
	if thunk, ok := l.cache.Get(ctx, k); ok {
		return thunk
	}
	return func() (V, error) { // Fill caches every key; this is a bug, not a client's error
		var zero V
		return zero, apperr.New(apperr.Internal, "a loader lost a key")
	}
}

// Fill loads, in one call of the batch function, the keys not cached yet,
// and caches every result, errors included: the loads of a whole level then
// cost one statement, whatever the scheduling of the resolvers that follow.
// It returns the values of keys in order (the zero value for failed keys).
func (l *Loader[K, V]) Fill(ctx context.Context, keys []K) []V {
	var missing []K
	seen := make(map[K]bool, len(keys))
	for _, k := range keys {
		if _, ok := l.cache.Get(ctx, k); !ok && !seen[k] {
			missing = append(missing, k)
		}
		seen[k] = true
	}
	if len(missing) > 0 {
		for i, r := range l.batch(ctx, missing) {
			l.cache.Set(ctx, missing[i], func() (V, error) { return r.Data, r.Error })
		}
	}
	out := make([]V, len(keys))
	for i, k := range keys {
		if thunk, ok := l.cache.Get(ctx, k); ok {
			out[i], _ = thunk()
		}
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// fetch is a store function reading the rows of many keys in one statement.
type fetch[V any] func(context.Context, store.DB, []string) ([]V, error)

// byID loads one row per key; a key with no row gets its own NOT_FOUND.
func byID[V any](o Options, name string, db bun.IDB, f fetch[V], key func(V) string) *Loader[string, V] {
	return newLoader(o, name, func(ctx context.Context, keys []string) []*dataloader.Result[V] {
		rows, err := f(ctx, db, keys)
		out := make([]*dataloader.Result[V], len(keys))
		m := index(rows, key)
		for i, k := range keys {
			switch v, ok := m[k]; {
			case err != nil:
				out[i] = &dataloader.Result[V]{Error: err}
			case ok:
				out[i] = &dataloader.Result[V]{Data: v}
			default:
				out[i] = &dataloader.Result[V]{Error: apperr.NotFoundf(name)}
			}
		}
		return out
	})
}

// optional loads at most one row per key; a key with no row gets the zero value.
func optional[V any](o Options, name string, db bun.IDB, f fetch[V], key func(V) string) *Loader[string, V] {
	return newLoader(o, name, func(ctx context.Context, keys []string) []*dataloader.Result[V] {
		rows, err := f(ctx, db, keys)
		m := index(rows, key)
		out := make([]*dataloader.Result[V], len(keys))
		for i, k := range keys {
			out[i] = &dataloader.Result[V]{Data: m[k], Error: err}
		}
		return out
	})
}

// grouped loads all rows per key, in the store's order.
func grouped[V any](o Options, name string, db bun.IDB, f fetch[V], key func(V) string) *Loader[string, []V] {
	return newLoader(o, name, func(ctx context.Context, keys []string) []*dataloader.Result[[]V] {
		rows, err := f(ctx, db, keys)
		m := map[string][]V{}
		for _, r := range rows {
			m[key(r)] = append(m[key(r)], r)
		}
		out := make([]*dataloader.Result[[]V], len(keys))
		for i, k := range keys {
			out[i] = &dataloader.Result[[]V]{Data: m[k], Error: err}
		}
		return out
	})
}

func index[V any](rows []V, key func(V) string) map[string]V {
	m := make(map[string]V, len(rows))
	for _, r := range rows {
		m[key(r)] = r
	}
	return m
}

func messagePages(db bun.IDB) dataloader.BatchFunc[store.MessagePage, MessageWindow] {
	return func(ctx context.Context, keys []store.MessagePage) []*dataloader.Result[MessageWindow] {
		rows, err := store.MessagePages(ctx, db, keys)
		bySession := map[string][]*models.SessionMessage{}
		for _, m := range rows { // in seq order; rows of overlapping keys repeat
			if ms := bySession[m.SessionID]; len(ms) == 0 || ms[len(ms)-1].Seq != m.Seq {
				bySession[m.SessionID] = append(ms, m)
			}
		}
		out := make([]*dataloader.Result[MessageWindow], len(keys))
		for i, k := range keys {
			out[i] = &dataloader.Result[MessageWindow]{Data: messageWindow(k, bySession[k.SessionID]), Error: err}
		}
		return out
	}
}

// messageWindow cuts key k's page out of the rows read for its session
// (k's own, and maybe other keys' of the same session: every row is a real
// message, and k's own rows are the ones nearest to its bounds, so the
// result is the same).
func messageWindow(k store.MessagePage, ms []*models.SessionMessage) MessageWindow {
	var w MessageWindow
	var in []*models.SessionMessage
	for _, m := range ms {
		switch {
		case m.Seq <= k.AfterSeq:
			w.HasPrevious = true
		case k.BeforeSeq > 0 && m.Seq >= k.BeforeSeq:
			w.HasNext = true
		default:
			in = append(in, m)
		}
	}
	more := len(in) > k.N
	switch {
	case !more:
	case k.Backward:
		in, w.HasPrevious = in[len(in)-k.N:], true
	default:
		in, w.HasNext = in[:k.N], true
	}
	w.Messages = in
	return w
}

// solverPages is the batch function of a per-solver page loader: read reads
// the rows of every key at once, and row splits a row into the index of its
// key, the page's total and previous, its id (empty on the row of a solver
// without rows) and the value.
func solverPages[R, T any](db bun.IDB, read func(context.Context, store.DB, []store.SolverPage) ([]R, error),
	row func(*R) (key, total int, previous bool, id string, v *T)) dataloader.BatchFunc[store.SolverPage, SolverPage[T]] {
	return func(ctx context.Context, keys []store.SolverPage) []*dataloader.Result[SolverPage[T]] {
		rows, err := read(ctx, db, keys)
		pages := make([]SolverPage[T], len(keys))
		for i := range rows {
			key, total, previous, id, v := row(&rows[i])
			pages[key].Total, pages[key].Previous = total, previous
			if id != "" {
				pages[key].Rows = append(pages[key].Rows, v)
			}
		}
		out := make([]*dataloader.Result[SolverPage[T]], len(keys))
		for i := range keys {
			out[i] = &dataloader.Result[SolverPage[T]]{Data: pages[i], Error: err}
		}
		return out
	}
}

type ctxKey struct{}

// With returns a context carrying l.
func With(ctx context.Context, l *Loaders) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// From returns the context's loaders. It panics without them: a resolver
// running outside an operation is a wiring bug, not a client error.
func From(ctx context.Context) *Loaders { return ctx.Value(ctxKey{}).(*Loaders) }

// Inline says whether ctx's operation is resolved on one goroutine: its
// root fields read every relation of their selection ahead (Ahead), so the
// field resolvers below only find rows in the caches, and running them, and
// marshalling list elements, on goroutines of their own would cost more than
// the work itself (the generated code asks through graph/inline.go).
func Inline(ctx context.Context) bool {
	l, ok := ctx.Value(ctxKey{}).(*Loaders)
	return ok && l.inline
}

// PrimeTickets caches tickets read by a list query, so their relations'
// back-references (session.ticket) cost no statement.
func (l *Loaders) PrimeTickets(ctx context.Context, ts []*models.Ticket) {
	for _, t := range ts {
		l.TicketByID.Prime(ctx, t.ID, t)
	}
}

// PrimeSessions caches sessions read through a relation (message.session).
func (l *Loaders) PrimeSessions(ctx context.Context, ss []*models.Session) {
	for _, s := range ss {
		l.SessionByID.Prime(ctx, s.ID, s)
	}
}
