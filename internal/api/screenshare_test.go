package api_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/savvysolve/api/internal/seed"
	"github.com/savvysolve/api/models"
)

const (
	startShare = `mutation($id: ID!, $p: String!, $u: String) { startScreenShare(sessionId: $id, provider: $p, joinUrl: $u) {
		id status provider joinUrl startedAt endedAt session { id } } }`
	endShare = `mutation($id: ID!) { endScreenShare(id: $id) { id status startedAt endedAt } }`
	shares   = `query($id: ID!) { session(id: $id) { screenShares { id status endedAt } } }`
)

func TestScreenSharing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	solver, admin := token(t, seed.Solver1), token(t, seed.Admin)
	sid, guest := e.openSession()
	other, _, _ := e.newUser("share_solver", models.RoleSolver, models.SolverActive)
	vars := func(p string, u any) map[string]any { return map[string]any{"id": sid, "p": p, "u": u} }

	t.Run("Refusals", func(t *testing.T) {
		for _, c := range []struct {
			field string
			vars  map[string]any
		}{
			{"provider", vars("  ", nil)},
			{"provider", vars("a-provider-name-that-is-far-longer-than-fifty-characters", nil)},
			{"joinUrl", vars("zoom", "javascript:alert(1)")},
			{"joinUrl", vars("zoom", "ftp://files.example/x")},
			{"joinUrl", vars("zoom", "https://user:pw@zoom.us/j/1")},
			{"joinUrl", vars("zoom", "not a url")},
		} {
			r := e.wantCode("BAD_USER_INPUT", solver, startShare, c.vars)
			if r.Errors[0].Extensions["field"] != c.field {
				t.Errorf("%v: field %v", c.vars, r.Errors[0].Extensions["field"])
			}
		}
		e.wantCode("FORBIDDEN", guest, startShare, vars("zoom", nil))
		e.wantCode("NOT_FOUND", other, startShare, vars("zoom", nil))
		e.wantCode("NOT_FOUND", token(t, seed.Customer2), startShare, vars("zoom", nil))
		e.wantCode("UNAUTHENTICATED", "", startShare, vars("zoom", nil))
		e.wantCode("NOT_FOUND", solver, startShare, map[string]any{"id": "00000000-0000-4000-8000-00000000dead", "p": "zoom"})
		e.wantCode("CONFLICT", solver, startShare, map[string]any{"id": seed.SessionCompleted, "p": "zoom"}) // ended
		e.wantCode("NOT_FOUND", solver, endShare, map[string]any{"id": "00000000-0000-4000-8000-00000000dead"})
		e.wantCode("NOT_FOUND", solver, endShare, map[string]any{"id": "nope"})
	})

	a := get(e.must(solver, startShare, vars(" zoom ", " https://zoom.us/j/123 ")), "startScreenShare").(map[string]any)
	if a["status"] != "active" || a["provider"] != "zoom" || a["joinUrl"] != "https://zoom.us/j/123" || a["startedAt"] == nil ||
		a["endedAt"] != nil || str(a, "session", "id") != sid {
		t.Fatalf("start: %v", a)
	}
	e.wantCode("CONFLICT", admin, startShare, vars("meet", nil)) // one active at a time
	e.wantCode("FORBIDDEN", guest, endShare, map[string]any{"id": a["id"]})
	e.wantCode("NOT_FOUND", other, endShare, map[string]any{"id": a["id"]})
	ended := e.must(admin, endShare, map[string]any{"id": a["id"]})
	if str(ended, "endScreenShare", "status") != "ended" || get(ended, "endScreenShare", "endedAt") == nil {
		t.Fatalf("end: %v", ended)
	}
	e.wantCode("CONFLICT", solver, endShare, map[string]any{"id": a["id"]})

	// A new one may start; endSession ends it.
	b := str(e.must(admin, startShare, vars("meet", nil)), "startScreenShare", "id")
	e.must(solver, end, map[string]any{"id": sid})
	list := get(e.must(guest, shares, map[string]any{"id": sid}), "session", "screenShares").([]any)
	if len(list) != 2 || str(list[0], "id") != str(a, "id") || str(list[1], "id") != b {
		t.Fatalf("screen shares: %v", list)
	}
	for _, sc := range list {
		if str(sc, "status") != "ended" || get(sc, "endedAt") == nil {
			t.Fatalf("after endSession: %v", list)
		}
	}
	e.wantCode("CONFLICT", solver, startShare, vars("zoom", nil))

	// Of many starts at once, one wins.
	sid2, _ := e.openSession()
	const n = 8
	codes := make([]string, n)
	var wg sync.WaitGroup
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = e.do(solver, startShare, map[string]any{"id": sid2, "p": fmt.Sprint("p", i)}).code()
		}()
	}
	wg.Wait()
	wins := 0
	for _, c := range codes {
		switch c {
		case "":
			wins++
		case "CONFLICT":
		default:
			t.Errorf("unexpected code %q", c)
		}
	}
	if wins != 1 {
		t.Fatalf("%d concurrent starts won: %v", wins, codes)
	}
}

const sessionUpdated = `subscription($id: ID!) { sessionUpdated(sessionId: $id) { id endedAt screenShares { status } rating { rating } } }`

// TestSessionUpdated: the session's customer (by ticket token), its solver
// and an admin hear one event per change, in order; others are refused.
func TestSessionUpdated(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := e.live()
	solver, admin := token(t, seed.Solver1), token(t, seed.Admin)
	sid, guest := e.openSession()
	other, _, _ := e.newUser("updates_solver", models.RoleSolver, models.SolverActive)

	for _, c := range []struct{ name, tok, code string }{
		{"Anonymous", "", "UNAUTHENTICATED"},
		{"OtherCustomer", token(t, seed.Customer2), "NOT_FOUND"},
		{"OtherSolver", other, "NOT_FOUND"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := connect(t, srv, "graphql-transport-ws", c.tok)
			w.subscribe("9", sessionUpdated, map[string]any{"id": sid})
			if got := w.errorCode("9"); got != c.code {
				t.Fatalf("code %s, want %s", got, c.code)
			}
		})
	}

	subs := []*wsClient{
		connect(t, srv, "graphql-transport-ws", guest),
		connect(t, srv, "graphql-ws", solver),
		connect(t, srv, "graphql-transport-ws", admin),
	}
	for _, w := range subs {
		w.subscribe("s", sessionUpdated, map[string]any{"id": sid})
	}
	subscribed(t, e.hub, len(subs))

	// Each change, then its one event on every subscription. (An event
	// carries the session as it is when delivered, so the test waits for it
	// before the next change.)
	var share string
	steps := []struct {
		change func()
		want   string
	}{
		{func() {
			e.must(guest, send, map[string]any{"id": sid, "body": "a chat message is no change of the session"})
			share = str(e.must(solver, startShare, map[string]any{"id": sid, "p": "zoom"}), "startScreenShare", "id")
		}, "shares [active] ended false rating <nil>"},
		{func() { e.must(solver, endShare, map[string]any{"id": share}) }, "shares [ended] ended false rating <nil>"},
		{func() { e.must(admin, startShare, map[string]any{"id": sid, "p": "meet"}) }, "shares [ended active] ended false rating <nil>"},
		// endSession also ends the second share: one change, one event.
		{func() { e.must(solver, end, map[string]any{"id": sid}) }, "shares [ended ended] ended true rating <nil>"},
		{func() { e.must(guest, rate, map[string]any{"id": sid, "r": 5}) }, "shares [ended ended] ended true rating 5"},
	}
	// The listener's first catch-up may repeat the state before a change
	// (the session started just now); any other event is wrong.
	was := "shares [] ended false rating <nil>"
	for j, step := range steps {
		step.change()
		for i, w := range subs {
			for {
				d := get(w.data("s"), "sessionUpdated")
				if str(d, "id") != sid {
					t.Fatalf("subscriber %d: event of %v", i, d)
				}
				got := sessionState(d)
				if got == step.want {
					break
				}
				if got != was {
					t.Fatalf("subscriber %d, change %d: %s, want %s", i, j, got, step.want)
				}
			}
		}
		was = step.want
	}
	for i, w := range subs {
		select {
		case m := <-w.msgs:
			t.Fatalf("subscriber %d: extra event %s", i, m.Payload)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// sessionState sums up a sessionUpdated event.
func sessionState(d any) string {
	states := []string{}
	for _, sc := range get(d, "screenShares").([]any) {
		states = append(states, str(sc, "status"))
	}
	return fmt.Sprintf("shares %v ended %v rating %v", states, get(d, "endedAt") != nil, get(d, "rating", "rating"))
}

// TestSessionUpdatedAfterListenerLoss: a change committed while the
// listener's connection is down reaches the subscriber once it is back.
func TestSessionUpdatedAfterListenerLoss(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := e.live()
	solver := token(t, seed.Solver1)
	sid, guest := e.openSession()
	w := connect(t, srv, "graphql-transport-ws", guest)
	w.subscribe("s", sessionUpdated, map[string]any{"id": sid})
	subscribed(t, e.hub, 1)
	if _, err := e.db.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query ILIKE 'LISTEN%' AND datname = current_database()`); err != nil {
		t.Fatal(err)
	}
	e.must(solver, startShare, map[string]any{"id": sid, "p": "zoom"})
	// Whether it comes live or by the catch-up (which may first repeat the
	// state before it), the change arrives.
	for {
		switch got := sessionState(get(w.data("s"), "sessionUpdated")); got {
		case "shares [active] ended false rating <nil>":
			return
		case "shares [] ended false rating <nil>":
		default:
			t.Fatalf("after the listener's loss: %s", got)
		}
	}
}
