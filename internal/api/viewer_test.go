package api_test

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/savvysolve/api/internal/database"
	"github.com/savvysolve/api/internal/events"
	"github.com/savvysolve/api/internal/live"
	"github.com/savvysolve/api/internal/seed"
	wt "github.com/savvysolve/api/internal/webhooks/webhooktest"
)

// The viewer cache (auth.Cache): a request whose viewer is cached spends no
// statement on it; every write to users and solvers drops the entry on every
// replica; nothing is served while the listener is down.

const (
	pointLookup = `query($id: ID!) { ticket(id: $id) { id status description } }`
	myRole      = `{ me { role } }`
	queueTotal  = `{ ticketQueue(first: 1) { totalCount } }`
	suspend     = `mutation($id: ID!) { updateSolverStatus(solverId: $id, status: SUSPENDED) { status } }`
)

// probe hears what the hub's watchers hear, after the viewer cache (it is
// added after it): a test waits on it for an invalidation to have arrived.
type probe struct {
	heard     chan string // user ids
	listening chan bool
}

func newProbe() *probe {
	return &probe{heard: make(chan string, 1000), listening: make(chan bool, 100)}
}

func (p *probe) Listening(on bool)    { p.listening <- on }
func (p *probe) Heard(e events.Event) { p.heard <- e.ID }

// await waits until the hub heard of a change of user id.
func (p *probe) await(t *testing.T, userID string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case id := <-p.heard:
			if id == userID {
				return
			}
		case <-timeout:
			t.Fatalf("no event about user %s", userID)
		}
	}
}

// awaitListening waits until the listener's connection goes on or off.
func (p *probe) awaitListening(t *testing.T, on bool) {
	t.Helper()
	select {
	case got := <-p.listening:
		if got != on {
			t.Fatalf("listener went %v, want %v", got, on)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("listener never went %v", on)
	}
}

// listen starts e's listener with p watching, waits until it listens, and
// returns a function that stops it and waits until it has stopped.
func (e *env) listen(p *probe) (stop func()) {
	e.t.Helper()
	if p != nil {
		e.hub.Watch(p)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.hub.Listen(ctx, e.url)
	}()
	stop = func() { cancel(); <-done }
	e.t.Cleanup(stop) // a second call changes nothing
	select {
	case <-e.hub.Listening():
	case <-time.After(10 * time.Second):
		e.t.Fatal("listener did not start")
	}
	return stop
}

// cost runs a request that must succeed and returns its data and the
// number of statements it ran.
func (e *env) cost(tok, query string, vars map[string]any) (map[string]any, int64) {
	e.t.Helper()
	e.stmts.Store(0)
	d := e.must(tok, query, vars)
	return d, e.stmts.Load()
}

// replica is a second server on e's database, as a replica in production.
func (e *env) replica() *env {
	e.t.Helper()
	r := &env{t: e.t, url: e.url, stmts: new(atomic.Int64)}
	r.db, r.h, r.hub = buildServer(e.t, e.url, opts{})
	database.AddQueryHook(r.db, countHook{r.stmts})
	return r
}

// TestViewerCachePointLookup: with the viewer cached, a point lookup costs
// one statement, with a user token and with a guest token alike.
func TestViewerCachePointLookup(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.listen(nil)
	id, guest := e.newTicket("")
	vars := map[string]any{"id": id}
	for _, tok := range []string{token(t, seed.Admin), guest} {
		if _, n := e.cost(tok, pointLookup, vars); n != 2 {
			t.Fatalf("first request: %d statements, want 2 (viewer, ticket)", n)
		}
		for range 3 {
			d, n := e.cost(tok, pointLookup, vars)
			if n != 1 {
				t.Fatalf("with the viewer cached: %d statements, want 1", n)
			}
			if str(d, "ticket", "id") != id {
				t.Fatalf("got %v", d)
			}
		}
	}

	// The cached user is shared by concurrent requests: under -race, any
	// code that wrote to it while others read it would be reported.
	admin := token(t, seed.Admin)
	var wg sync.WaitGroup
	for _, q := range []string{pointLookup, `{ me { id name email phone role createdAt updatedAt solver { id } } }`,
		`{ tickets(first: 5) { edges { node { id solver { id user { name } } } } } }`, queueTotal} {
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if r := e.do(admin, q, vars); len(r.Errors) > 0 {
					t.Errorf("%s: %+v", q, r.Errors)
				}
			}()
		}
	}
	wg.Wait()
}

// TestViewerCacheInvalidation: a role change, a solver status change (by an
// admin or by the solver), a new solver profile, and Clerk's user.updated
// and user.deleted take effect on the user's next request, though their
// viewer was cached.
func TestViewerCacheInvalidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := newProbe()
	e.listen(p)
	admin := token(t, seed.Admin)

	// A cached viewer costs nothing: me reads no row.
	customer := token(t, seed.Customer3)
	e.must(customer, myRole, nil)
	if d, n := e.cost(customer, myRole, nil); n != 0 || str(d, "me", "role") != "CUSTOMER" {
		t.Fatalf("cached: %v after %d statements", d, n)
	}
	e.must(admin, setRole, map[string]any{"id": seed.UserCustomer3, "r": "ADMIN"})
	if d := e.must(customer, myRole, nil); str(d, "me", "role") != "ADMIN" {
		t.Fatalf("after setUserRole: %v", d)
	}
	e.must(customer, usersQuery, nil) // what admins may

	// An admin suspends an active solver.
	solver := token(t, seed.Solver1)
	e.must(solver, queueTotal, nil)
	e.must(solver, queueTotal, nil)
	e.must(admin, suspend, map[string]any{"id": seed.SolverActive})
	e.wantCode("FORBIDDEN", solver, queueTotal, nil)

	// A solver goes online and offline.
	offline := token(t, seed.Solver3)
	e.wantCode("FORBIDDEN", offline, queueTotal, nil)
	e.must(offline, `mutation { setMyAvailability(available: true) { status } }`, nil)
	e.must(offline, queueTotal, nil)
	e.must(offline, `mutation { setMyAvailability(available: false) { status } }`, nil)
	e.wantCode("FORBIDDEN", offline, queueTotal, nil)

	// A customer applies as a solver: a new profile and a new role.
	applicant := token(t, seed.Customer2)
	e.must(applicant, myRole, nil)
	e.must(applicant, `mutation { applyAsSolver(input: {}) { status } }`, nil)
	if d := e.must(applicant, myRole, nil); str(d, "me", "role") != "SOLVER" {
		t.Fatalf("after applyAsSolver: %v", d)
	}

	// Clerk's webhooks are applied by a job, on whichever replica: the
	// change reaches this one by its event.
	w := wt.New(t, wt.Options{Workers: 2, URL: e.url})
	deliver := func(msgID string, body []byte, userID string) {
		t.Helper()
		if status, resp := w.Clerk(t, msgID, body); status != http.StatusOK {
			t.Fatalf("delivery answered %d: %s", status, resp)
		}
		w.WaitProcessed(t)
		p.await(t, userID)
	}
	gone := token(t, seed.Customer1)
	e.must(gone, `{ me { name } }`, nil)
	e.must(gone, `{ me { name } }`, nil)
	deliver("msg_renamed", wt.ClerkUser(t, "user.updated", seed.Customer1, "c1@example.com", "Renamed", "", "", time.Now().Add(-time.Minute)), seed.UserCustomer1)
	if d := e.must(gone, `{ me { name } }`, nil); str(d, "me", "name") != "Renamed" {
		t.Fatalf("after user.updated: %v", d)
	}
	deliver("msg_deleted", wt.ClerkUser(t, "user.deleted", seed.Customer1, "", "", "", "", time.Now()), seed.UserCustomer1)
	e.wantCode("UNAUTHENTICATED", gone, `{ me { name } }`, nil)
}

// TestViewerCacheAcrossReplicas: two servers on one database, each with its
// own cache. A change made through one reaches the other's cache by the
// event its listener hears, and the other's next request sees it.
func TestViewerCacheAcrossReplicas(t *testing.T) {
	t.Parallel()
	a, pa := newEnv(t), newProbe()
	a.listen(pa)
	b, pb := a.replica(), newProbe()
	b.listen(pb)
	admin := token(t, seed.Admin)

	customer := token(t, seed.Customer3)
	b.must(customer, myRole, nil)
	if _, n := b.cost(customer, myRole, nil); n != 0 {
		t.Fatalf("replica b: %d statements with the viewer cached, want 0", n)
	}
	a.must(admin, setRole, map[string]any{"id": seed.UserCustomer3, "r": "ADMIN"})
	pb.await(t, seed.UserCustomer3)
	if d := b.must(customer, myRole, nil); str(d, "me", "role") != "ADMIN" {
		t.Fatalf("replica b after the role change on a: %v", d)
	}

	solver := token(t, seed.Solver1)
	b.must(solver, queueTotal, nil)
	b.must(solver, queueTotal, nil)
	a.must(admin, suspend, map[string]any{"id": seed.SolverActive})
	pb.await(t, seed.UserSolver1)
	b.wantCode("FORBIDDEN", solver, queueTotal, nil)

	// And the other way: a change made on b reaches a's cache.
	a.must(admin, myRole, nil)
	if _, n := a.cost(admin, myRole, nil); n != 0 {
		t.Fatalf("replica a: %d statements with the viewer cached, want 0", n)
	}
	b.must(customer, setRole, map[string]any{"id": seed.UserAdmin, "r": "CUSTOMER"}) // customer 3 is an admin now
	pa.await(t, seed.UserAdmin)
	if d := a.must(admin, myRole, nil); str(d, "me", "role") != "CUSTOMER" {
		t.Fatalf("replica a after the role change on b: %v", d)
	}
}

// TestViewerCacheListenerDown: before the first LISTEN, after the listener
// stopped, and across a lost connection, no cached viewer is served: a change
// whose event was missed (made here by hand, without one) is seen at once.
func TestViewerCacheListenerDown(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	customer := token(t, seed.Customer3)
	setRoleByHand := func(role string) {
		t.Helper()
		if _, err := e.db.Exec("UPDATE users SET role = ? WHERE id = ?", role, seed.UserCustomer3); err != nil {
			t.Fatal(err)
		}
	}
	wantRole := func(role string, statements int64) {
		t.Helper()
		d, n := e.cost(customer, myRole, nil)
		if str(d, "me", "role") != role || n != statements {
			t.Fatalf("role %s after %d statements, want %s after %d", str(d, "me", "role"), n, role, statements)
		}
	}

	// Not listening yet: every request reads its viewer.
	wantRole("CUSTOMER", 1)
	wantRole("CUSTOMER", 1)

	p := newProbe()
	stop := e.listen(p)
	p.awaitListening(t, true)
	wantRole("CUSTOMER", 1)
	wantRole("CUSTOMER", 0)
	setRoleByHand("solver") // no event: the cache cannot know
	wantRole("CUSTOMER", 0)

	// The listener's connection is cut: when it is back, the cache starts empty.
	var pid int
	if err := e.db.NewRaw("SELECT pid FROM pg_stat_activity WHERE query = ? AND datname = current_database()",
		"LISTEN "+events.Channel).Scan(context.Background(), &pid); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Exec("SELECT pg_terminate_backend(?)", pid); err != nil {
		t.Fatal(err)
	}
	p.awaitListening(t, false)
	p.awaitListening(t, true)
	wantRole("SOLVER", 1)
	wantRole("SOLVER", 0)

	// A change by hand, announced by hand as docs/operations.md says.
	setRoleByHand("customer")
	if _, err := e.db.Exec(`SELECT pg_notify('savvysolve_events', '{"k":"user","id":"` + seed.UserCustomer3 + `"}')`); err != nil {
		t.Fatal(err)
	}
	p.await(t, seed.UserCustomer3)
	wantRole("CUSTOMER", 1)
	wantRole("CUSTOMER", 0)

	// The listener stops: the cache stops serving.
	stop()
	setRoleByHand("admin")
	wantRole("ADMIN", 1)
	wantRole("ADMIN", 1)
}

var _ live.Watcher = (*probe)(nil)
