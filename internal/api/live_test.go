package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/live"
	"github.com/savvysolve/api/internal/seed"
	"github.com/savvysolve/api/internal/wsconn"
)

const chat = `subscription($id: ID!, $after: ID) { sessionMessages(sessionId: $id, after: $after) { id body sender author { name } } }`

// openSession creates a ticket as a guest, claims and starts it as the seeded
// active solver, and returns the session id and the guest's token.
func (e *env) openSession() (sid, guest string) {
	e.t.Helper()
	solver := token(e.t, seed.Solver1)
	id, guest := e.newTicket("")
	e.must(solver, claim, map[string]any{"id": id})
	s := e.must(solver, start, map[string]any{"id": id})
	return str(s, "startSession", "id"), guest
}

func TestChatBothProtocols(t *testing.T) {
	t.Parallel()
	for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
		t.Run(proto, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			srv := e.live()
			sid, guest := e.openSession()
			solver := token(t, seed.Solver1)
			cust, sol := connect(t, srv, proto, guest), connect(t, srv, proto, solver)
			cust.subscribe("1", chat, map[string]any{"id": sid})
			sol.subscribe("1", chat, map[string]any{"id": sid})
			subscribed(t, e.hub, 2)
			e.must(guest, send, map[string]any{"id": sid, "body": "my screen is black"})
			e.must(solver, send, map[string]any{"id": sid, "body": "let's fix it"})
			for _, c := range []*wsClient{cust, sol} {
				a, b := c.data("1"), c.data("1")
				if str(a, "sessionMessages", "body") != "my screen is black" || str(b, "sessionMessages", "body") != "let's fix it" {
					t.Fatalf("got %v then %v", a, b)
				}
				if str(b, "sessionMessages", "author", "name") != "Sam Solver" {
					t.Fatalf("author: %v", b)
				}
			}
		})
	}
}

func TestSocketAuth(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := e.live()
	sid, guest := e.openSession()

	t.Run("BadTokenCloses4401", func(t *testing.T) {
		w, _, err := dial(t, srv, "graphql-transport-ws", nil, map[string]any{"Authorization": "Bearer nonsense"})
		if err != nil {
			t.Fatal(err)
		}
		if ce := w.closed(); ce.Code != wsconn.CodeUnauthorized || ce.Text == "" {
			t.Fatalf("close %d %q", ce.Code, ce.Text)
		}
	})
	t.Run("HeadersPayloadAccepted", func(t *testing.T) {
		w, _, err := dial(t, srv, "graphql-transport-ws", nil, map[string]any{"headers": map[string]any{"Authorization": "Bearer " + token(t, seed.Admin)}})
		if err != nil {
			t.Fatal(err)
		}
		if m := w.next(); m.Type != "connection_ack" {
			t.Fatalf("got %+v", m)
		}
		w.subscribe("1", chat, map[string]any{"id": sid}) // admins may read any chat
		w.subscribe("2", `subscription { ticketQueue { kind } }`, nil)
		// Both are accepted when an event of each arrives; a refusal would
		// come first. (Queue events from earlier claims may come too.)
		e.must(guest, send, map[string]any{"id": sid, "body": "accepted?"})
		e.newTicket("")
		for chat, queue := false, false; !chat || !queue; {
			m := w.next()
			if m.Type != "next" || strings.Contains(string(m.Payload), `"errors"`) {
				t.Fatalf("refused: %s %s", m.Type, m.Payload)
			}
			chat, queue = chat || m.ID == "1", queue || m.ID == "2"
		}
	})
	cases := []struct {
		name, tok, query, code string
		vars                   map[string]any
	}{
		{"AnonymousChat", "", chat, "UNAUTHENTICATED", map[string]any{"id": sid}},
		{"OtherCustomerChat", token(t, seed.Customer2), chat, "NOT_FOUND", map[string]any{"id": sid}},
		{"CustomerQueue", token(t, seed.Customer1), `subscription { ticketQueue { kind } }`, "FORBIDDEN", nil},
		{"OnboardingQueue", token(t, seed.Solver2), `subscription { ticketQueue { kind } }`, "FORBIDDEN", nil},
		{"OtherTicketUpdates", token(t, seed.Customer2), `subscription($id: ID!) { ticketUpdated(ticketId: $id) { status } }`, "NOT_FOUND", map[string]any{"id": seed.TicketCompleted}},
		{"BadCursor", token(t, seed.Admin), chat, "BAD_USER_INPUT", map[string]any{"id": sid, "after": seed.RatingCompleted}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, proto := range []string{"graphql-transport-ws", "graphql-ws"} {
				w := connect(t, srv, proto, c.tok)
				w.subscribe("9", c.query, c.vars)
				if got := w.errorCode("9"); got != c.code {
					t.Fatalf("%s: code %s, want %s", proto, got, c.code)
				}
			}
		})
	}
	t.Run("ForeignOriginRefused", func(t *testing.T) {
		h := http.Header{"Origin": {"https://evil.example"}}
		if _, resp, err := dial(t, srv, "graphql-transport-ws", h, nil); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("foreign origin: err %v resp %v", err, resp)
		}
		h = http.Header{"Origin": {"https://app.savvysolve.test"}}
		if _, _, err := dial(t, srv, "graphql-transport-ws", h, nil); err != nil {
			t.Fatalf("allowed origin refused: %v", err)
		}
	})
	t.Run("ExpiredTokenCloses4403", func(t *testing.T) {
		tok, err := auth.SignHS256([]byte(secret), seed.Admin, 1500*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		w := connect(t, srv, "graphql-transport-ws", tok)
		if ce := w.closed(); ce.Code != wsconn.CodeForbidden || ce.Text != "token expired" {
			t.Fatalf("close %d %q", ce.Code, ce.Text)
		}
	})
}

// TestResume: a client that reconnects with `after` gets exactly what it missed.
func TestResume(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := e.live()
	sid, guest := e.openSession()
	w := connect(t, srv, "graphql-transport-ws", guest)
	w.subscribe("1", chat, map[string]any{"id": sid})
	subscribed(t, e.hub, 1)
	e.must(guest, send, map[string]any{"id": sid, "body": "m1"})
	e.must(guest, send, map[string]any{"id": sid, "body": "m2"})
	w.data("1")
	last := str(w.data("1"), "sessionMessages", "id")
	w.c.Close()
	for i := 3; i <= 5; i++ {
		e.must(guest, send, map[string]any{"id": sid, "body": fmt.Sprintf("m%d", i)})
	}
	w = connect(t, srv, "graphql-ws", guest)
	w.subscribe("1", chat, map[string]any{"id": sid, "after": last})
	for i := 3; i <= 6; i++ {
		if i == 6 { // a live one after the replay
			e.must(guest, send, map[string]any{"id": sid, "body": "m6"})
		}
		if got := str(w.data("1"), "sessionMessages", "body"); got != fmt.Sprintf("m%d", i) {
			t.Fatalf("got %s, want m%d", got, i)
		}
	}
	select {
	case m := <-w.msgs:
		t.Fatalf("duplicate or extra message: %s", m.Payload)
	case <-time.After(200 * time.Millisecond):
	}
}

// collect reads n chat bodies from w.
func collect(t *testing.T, w *wsClient, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i := range out {
		out[i] = str(w.data("1"), "sessionMessages", "body")
	}
	return out
}

// sendAll sends n messages from each of two senders concurrently and returns
// every body in the order each sender sent them.
func sendAll(e *env, sid string, toks []string, n int) {
	var wg sync.WaitGroup
	for s, tok := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				e.must(tok, send, map[string]any{"id": sid, "body": fmt.Sprintf("%d-%03d", s, i)})
			}
		}()
	}
	wg.Wait()
}

// checkOrder: every message exactly once, each sender's in its order.
func checkOrder(t *testing.T, got []string, senders, n int) {
	t.Helper()
	next := make([]int, senders)
	for _, b := range got {
		var s, i int
		fmt.Sscanf(b, "%d-%d", &s, &i)
		if i != next[s] {
			t.Fatalf("sender %d: got message %d, want %d (all: %v)", s, i, next[s], got)
		}
		next[s]++
	}
}

func TestOrderUnderConcurrentSenders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := e.live()
	sid, guest := e.openSession()
	w := connect(t, srv, "graphql-transport-ws", guest)
	w.subscribe("1", chat, map[string]any{"id": sid})
	subscribed(t, e.hub, 1)
	const n = 25
	sendAll(e, sid, []string{guest, token(t, seed.Solver1)}, n)
	got := collect(t, w, 2*n)
	checkOrder(t, got, 2, n)
	// The live order is the session's order: a replay from the start agrees.
	r := connect(t, srv, "graphql-ws", guest)
	r.subscribe("1", chat, map[string]any{"id": sid})
	if replay := collect(t, r, 2*n); fmt.Sprint(replay) != fmt.Sprint(got) {
		t.Fatalf("replay order differs:\n%v\n%v", replay, got)
	}
}

// TestTwoReplicas: a subscriber on one server hears a message sent through another.
func TestTwoReplicas(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srvA := e.live()
	sid, guest := e.openSession()
	w := connect(t, srvA, "graphql-transport-ws", guest)
	w.subscribe("1", chat, map[string]any{"id": sid})
	subscribed(t, e.hub, 1)
	_, e.h, e.hub = buildServer(t, e.url, opts{}) // replica B: e.h now sends through it
	e.must(guest, send, map[string]any{"id": sid, "body": "via B"})
	if got := str(w.data("1"), "sessionMessages", "body"); got != "via B" {
		t.Fatalf("got %s", got)
	}
}

// TestListenerKilled: terminating the listener's connection while messages
// flow loses nothing.
func TestListenerKilled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := e.live()
	sid, guest := e.openSession()
	w := connect(t, srv, "graphql-transport-ws", guest)
	w.subscribe("1", chat, map[string]any{"id": sid})
	subscribed(t, e.hub, 1)
	const n = 40
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < n; i++ {
			e.must(guest, send, map[string]any{"id": sid, "body": fmt.Sprintf("0-%03d", i)})
			if i == 10 || i == 25 {
				if _, err := e.db.Exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query ILIKE 'LISTEN%' AND datname = current_database()`); err != nil {
					t.Error(err)
				}
			}
		}
	}()
	got := collect(t, w, n)
	<-done
	checkOrder(t, got, 1, n)
}

func TestTicketEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := e.live()
	admin, solver := token(t, seed.Admin), token(t, seed.Solver1)
	q := connect(t, srv, "graphql-transport-ws", solver)
	q.subscribe("q", `subscription { ticketQueue { kind ticket { id status customerInfo { name } } } }`, nil)
	subscribed(t, e.hub, 1)
	id, guest := e.newTicket("")
	added := q.data("q")
	if str(added, "ticketQueue", "kind") != "ADDED" || str(added, "ticketQueue", "ticket", "id") != id || get(added, "ticketQueue", "ticket", "customerInfo") != nil {
		t.Fatalf("added: %v", added)
	}
	u := connect(t, srv, "graphql-ws", guest)
	u.subscribe("u", `subscription($id: ID!) { ticketUpdated(ticketId: $id) { status } }`, map[string]any{"id": id})
	a := connect(t, srv, "graphql-transport-ws", admin)
	a.subscribe("u", `subscription($id: ID!) { ticketUpdated(ticketId: $id) { status } }`, map[string]any{"id": id})
	subscribed(t, e.hub, 3)
	e.must(solver, claim, map[string]any{"id": id})
	if r := q.data("q"); str(r, "ticketQueue", "kind") != "REMOVED" {
		t.Fatalf("removed: %v", r)
	}
	s := e.must(solver, start, map[string]any{"id": id})
	e.must(solver, end, map[string]any{"id": str(s, "startSession", "id")})
	for _, c := range []*wsClient{u, a} {
		for _, want := range []string{"CLAIMED", "IN_PROGRESS", "COMPLETED"} {
			if got := str(c.data("u"), "ticketUpdated", "status"); got != want {
				t.Fatalf("status %s, want %s", got, want)
			}
		}
	}
}

// TestNoLeaks: goroutines return to their baseline after clients go.
func TestNoLeaks(t *testing.T) {
	e := newEnv(t)
	srv := e.live()
	sid, guest := e.openSession()
	// The baseline: the count once it stops changing (the server's own
	// goroutines started by the first requests have settled).
	base := runtime.NumGoroutine()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		runtime.Gosched()
		n := runtime.NumGoroutine()
		if n == base {
			break
		}
		base = n
	}
	var clients []*wsClient
	for i := 0; i < 20; i++ {
		w := connect(t, srv, "graphql-transport-ws", guest)
		w.subscribe("1", chat, map[string]any{"id": sid})
		clients = append(clients, w)
	}
	subscribed(t, e.hub, 20)
	e.must(guest, send, map[string]any{"id": sid, "body": "to all"})
	for _, w := range clients {
		w.data("1")
		w.c.Close() // abruptly, as a closed browser tab would
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := runtime.NumGoroutine()
		if got <= base+2 && e.hub.Len() == 0 {
			return
		}
		runtime.Gosched()
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d, baseline %d; subscriptions left: %d\n%s", got, base, e.hub.Len(), buf[:runtime.Stack(buf, true)])
		}
	}
}

// TestFanOutStatements: what one chat message costs in SQL does not depend on
// how many subscribers receive it. The hub reads the row once, and the loads
// of every subscriber resolving it (author, session, ticket) are batched
// together by the subscriptions' shared loaders.
func TestFanOutStatements(t *testing.T) {
	t.Parallel()
	const q = `subscription($id: ID!) { sessionMessages(sessionId: $id) { body author { name } session { id ticket { status } } } }`
	cost := map[int]int64{}
	for _, n := range []int{2, 12} {
		e := newEnvOpts(t, opts{wait: 25 * time.Millisecond}) // wide: all subscribers land in one batch
		srv := e.live()
		sid, guest := e.openSession()
		solver := token(t, seed.Solver1)
		ws := make([]*wsClient, n)
		for i := range ws {
			ws[i] = connect(t, srv, "graphql-transport-ws", guest)
			ws[i].subscribe("1", q, map[string]any{"id": sid})
		}
		// Every subscription is live (and has replayed) once this arrives.
		e.must(solver, send, map[string]any{"id": sid, "body": "warm-up"})
		for _, w := range ws {
			w.data("1")
		}
		e.stmts.Store(0)
		e.must(solver, send, map[string]any{"id": sid, "body": "counted"})
		for _, w := range ws {
			d := w.data("1")
			if str(d, "sessionMessages", "body") != "counted" || str(d, "sessionMessages", "author", "name") != "Sam Solver" ||
				str(d, "sessionMessages", "session", "ticket", "status") != "IN_PROGRESS" {
				t.Fatalf("got %v", d)
			}
		}
		cost[n] = e.stmts.Load()
	}
	if cost[2] != cost[12] {
		t.Fatalf("statements for one message: %d with 2 subscribers, %d with 12", cost[2], cost[12])
	}
	t.Logf("one message to its subscribers: %d statements (send included)", cost[2])
}

// TestSubscriptionsPerSocket: one socket holds at most 100 subscriptions;
// the one past the limit is refused, the others stay live.
func TestSubscriptionsPerSocket(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := e.live()
	w := connect(t, srv, "graphql-transport-ws", token(t, seed.Admin))
	for i := range live.MaxSubscriptionsPerConn + 1 {
		w.subscribe(fmt.Sprint(i), `subscription { ticketQueue { kind } }`, nil)
	}
	m := w.next() // the refusal (any id: the subscriptions start concurrently)
	var p struct{ Errors []gqlError }
	json.Unmarshal(m.Payload, &p)
	if m.Type != "next" || len(p.Errors) == 0 || p.Errors[0].Extensions["code"] != "RATE_LIMITED" {
		t.Fatalf("got %s %s", m.Type, m.Payload)
	}
	if end := w.next(); end.Type != "complete" || end.ID != m.ID {
		t.Fatalf("got %s %s", end.Type, end.ID)
	}
	subscribed(t, e.hub, live.MaxSubscriptionsPerConn)
	e.newTicket("")
	seen := map[string]bool{}
	for range live.MaxSubscriptionsPerConn {
		n := w.next()
		if n.Type != "next" || !strings.Contains(string(n.Payload), `"ADDED"`) {
			t.Fatalf("got %s %s", n.Type, n.Payload)
		}
		seen[n.ID] = true
	}
	if len(seen) != live.MaxSubscriptionsPerConn || seen[m.ID] {
		t.Fatalf("%d subscriptions got the event (refused: %s)", len(seen), m.ID)
	}
}
