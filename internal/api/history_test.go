package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/savvysolve/api/internal/seed"
	"github.com/savvysolve/api/models"
)

const sessionsQ = `query($f: SessionFilter, $first: Int, $after: String) { sessions(filter: $f, first: $first, after: $after) {
	totalCount edges { cursor node { id endedAt ticket { id } solver { id } } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`

// ids lists the node ids of a connection's edges.
func ids(conn any) []string {
	var out []string
	for _, edge := range get(conn, "edges").([]any) {
		out = append(out, str(edge, "node", "id"))
	}
	return out
}

// TestSessionHistory: who lists which sessions, newest first, with filters
// and pages; Solver.sessions for that solver and admins.
func TestSessionHistory(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin, solver, c1 := token(t, seed.Admin), token(t, seed.Solver1), token(t, seed.Customer1)
	other, _, otherID := e.newUser("history_solver", models.RoleSolver, models.SolverActive)

	// s2: Casey's new ticket, running with the seeded solver.
	t2, _ := e.newTicket(c1)
	e.must(solver, claim, map[string]any{"id": t2})
	s2 := str(e.must(solver, start, map[string]any{"id": t2}), "startSession", "id")
	// s3: a guest's ticket with another solver, ended.
	t3, guest := e.newTicket("")
	e.must(other, claim, map[string]any{"id": t3})
	s3 := str(e.must(other, start, map[string]any{"id": t3}), "startSession", "id")
	e.must(other, end, map[string]any{"id": s3})
	s1 := seed.SessionCompleted

	list := func(tok string, f map[string]any) []string {
		t.Helper()
		return ids(get(e.must(tok, sessionsQ, map[string]any{"f": f, "first": 100}), "sessions"))
	}
	hourAgo := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	cases := []struct {
		name string
		tok  string
		f    map[string]any
		want []string
	}{
		{"AdminAllNewestFirst", admin, nil, []string{s3, s2, s1}},
		{"SolverOwn", solver, nil, []string{s2, s1}},
		{"OtherSolverOwn", other, nil, []string{s3}},
		{"SolverFilterOnOthers", solver, map[string]any{"solverId": otherID}, nil},
		{"AdminBySolver", admin, map[string]any{"solverId": otherID}, []string{s3}},
		{"CustomerOwnTickets", c1, nil, []string{s2, s1}},
		{"OtherCustomerNone", token(t, seed.Customer2), nil, nil},
		{"GuestTokenItsTicket", guest, nil, []string{s3}},
		{"Active", admin, map[string]any{"active": true}, []string{s2}},
		{"Ended", admin, map[string]any{"active": false}, []string{s3, s1}},
		{"StartedAfter", admin, map[string]any{"startedAfter": hourAgo}, []string{s3, s2}},
		{"StartedBefore", admin, map[string]any{"startedBefore": hourAgo}, []string{s1}},
		{"CustomerActive", c1, map[string]any{"active": true}, []string{s2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := list(c.tok, c.f); fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
		})
	}
	e.wantCode("UNAUTHENTICATED", "", sessionsQ, nil)
	e.wantCode("BAD_USER_INPUT", admin, sessionsQ, map[string]any{"after": "garbage"})

	t.Run("SolverSessions", func(t *testing.T) {
		const q = `query($id: ID!, $after: String) { solver(id: $id) { sessions(first: 1, after: $after) {
			totalCount edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }`
		for _, tok := range []string{solver, admin} {
			p1 := get(e.must(tok, q, map[string]any{"id": seed.SolverActive}), "solver", "sessions")
			if str(p1, "totalCount") != "2" || fmt.Sprint(ids(p1)) != fmt.Sprint([]string{s2}) ||
				get(p1, "pageInfo", "hasNextPage") != true || get(p1, "pageInfo", "hasPreviousPage") != false {
				t.Fatalf("page 1: %v", p1)
			}
			p2 := get(e.must(tok, q, map[string]any{"id": seed.SolverActive, "after": get(p1, "pageInfo", "endCursor")}), "solver", "sessions")
			if fmt.Sprint(ids(p2)) != fmt.Sprint([]string{s1}) || get(p2, "pageInfo", "hasNextPage") != false ||
				get(p2, "pageInfo", "hasPreviousPage") != true || str(p2, "pageInfo", "startCursor") != str(p2, "edges", 0, "cursor") {
				t.Fatalf("page 2: %v", p2)
			}
		}
		for _, tok := range []string{c1, other, token(t, seed.Solver2)} {
			e.wantCode("FORBIDDEN", tok, q, map[string]any{"id": seed.SolverActive})
		}
		// Admins page through a solver without sessions too.
		empty := get(e.must(admin, q, map[string]any{"id": seed.SolverInactive}), "solver", "sessions")
		if str(empty, "totalCount") != "0" || len(ids(empty)) != 0 || get(empty, "pageInfo", "startCursor") != nil {
			t.Fatalf("no sessions: %v", empty)
		}
	})

	t.Run("LinkedTicketJoinsHistory", func(t *testing.T) {
		cust, _, _ := e.newUser("history_linker", models.RoleCustomer, "")
		if got := list(cust, nil); len(got) != 0 {
			t.Fatalf("before: %v", got)
		}
		e.must(cust, link, map[string]any{"tok": guest})
		if got := list(cust, nil); fmt.Sprint(got) != fmt.Sprint([]string{s3}) {
			t.Fatalf("after linking: %v", got)
		}
	})
}

const messagesQ = `query($id: ID!, $first: Int, $after: String, $last: Int, $before: String) { session(id: $id) {
	messages(first: $first, after: $after, last: $last, before: $before) {
		edges { cursor node { body } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }`

// TestMessagesFromTheNewest: last/before pages back from the newest message,
// edges stay oldest first, and pageInfo says what lies on either side.
func TestMessagesFromTheNewest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sid, guest := e.openSession()
	for i := 1; i <= 7; i++ {
		e.must(guest, send, map[string]any{"id": sid, "body": fmt.Sprintf("m%d", i)})
	}
	page := func(vars map[string]any) (bodies []string, info map[string]any) {
		t.Helper()
		vars["id"] = sid
		c := get(e.must(guest, messagesQ, vars), "session", "messages")
		edges := get(c, "edges").([]any)
		for _, edge := range edges {
			bodies = append(bodies, str(edge, "node", "body"))
		}
		info = get(c, "pageInfo").(map[string]any)
		if len(edges) > 0 && (str(info, "startCursor") != str(edges[0], "cursor") || str(info, "endCursor") != str(edges[len(edges)-1], "cursor")) {
			t.Fatalf("cursors %v for edges %v", info, edges)
		}
		if len(edges) == 0 && (info["startCursor"] != nil || info["endCursor"] != nil) {
			t.Fatalf("cursors on an empty page: %v", info)
		}
		return bodies, info
	}
	check := func(name string, vars map[string]any, want string, prev, next bool) map[string]any {
		t.Helper()
		bodies, info := page(vars)
		if strings.Join(bodies, ",") != want || info["hasPreviousPage"] != prev || info["hasNextPage"] != next {
			t.Fatalf("%s: %v %v, want %s prev %v next %v", name, bodies, info, want, prev, next)
		}
		return info
	}

	// A chat opens at the newest messages and scrolls up.
	p := check("last 3", map[string]any{"last": 3}, "m5,m6,m7", true, false)
	p = check("3 before m5", map[string]any{"last": 3, "before": p["startCursor"]}, "m2,m3,m4", true, true)
	check("3 before m2", map[string]any{"last": 3, "before": p["startCursor"]}, "m1", false, true)
	check("last wins over first", map[string]any{"first": 2, "last": 3}, "m5,m6,m7", true, false)
	check("last 0", map[string]any{"last": 0}, "", true, false)
	check("last 50", map[string]any{"last": 50}, "m1,m2,m3,m4,m5,m6,m7", false, false)

	// Forward pages say what comes before them too.
	p = check("first 3", map[string]any{"first": 3}, "m1,m2,m3", false, true)
	p = check("3 after m3", map[string]any{"first": 3, "after": p["endCursor"]}, "m4,m5,m6", true, true)
	m6 := p["endCursor"]
	check("3 after m6", map[string]any{"first": 3, "after": m6}, "m7", true, false)
	check("the default page", map[string]any{}, "m1,m2,m3,m4,m5,m6,m7", false, false)

	// Between two messages.
	_, first2 := page(map[string]any{"first": 2})
	m2 := first2["endCursor"]
	check("between m2 and m6", map[string]any{"after": m2, "before": m6}, "m3,m4,m5", true, true)
	check("last 2 between m2 and m6", map[string]any{"after": m2, "before": m6, "last": 2}, "m4,m5", true, true)
	check("first 2 between m2 and m6", map[string]any{"after": m2, "before": m6, "first": 2}, "m3,m4", true, true)

	// Walking back from the newest reads every message once, in order.
	var all []string
	vars := map[string]any{"last": 2}
	for range 10 {
		bodies, info := page(vars)
		all = append(bodies, all...)
		if info["hasPreviousPage"] != true {
			break
		}
		vars = map[string]any{"last": 2, "before": info["startCursor"]}
	}
	if strings.Join(all, ",") != "m1,m2,m3,m4,m5,m6,m7" {
		t.Fatalf("walked back: %v", all)
	}

	for _, c := range []struct {
		field string
		vars  map[string]any
	}{
		{"last", map[string]any{"id": sid, "last": -1}},
		{"last", map[string]any{"id": sid, "last": 101}},
		{"before", map[string]any{"id": sid, "last": 2, "before": "garbage"}},
		{"after", map[string]any{"id": sid, "after": "garbage"}},
	} {
		r := e.wantCode("BAD_USER_INPUT", guest, messagesQ, c.vars)
		if r.Errors[0].Extensions["field"] != c.field {
			t.Errorf("%v: field %v", c.vars, r.Errors[0].Extensions["field"])
		}
	}

	// An empty chat has nothing on either side.
	empty, _ := e.openSession()
	c := get(e.must(token(t, seed.Solver1), messagesQ, map[string]any{"id": empty, "last": 50}), "session", "messages")
	if len(get(c, "edges").([]any)) != 0 || get(c, "pageInfo", "hasPreviousPage") != false || get(c, "pageInfo", "hasNextPage") != false {
		t.Fatalf("empty chat: %v", c)
	}
}

// TestPageInfoOnEveryConnection: on every connection, a second page knows a
// first one exists (hasPreviousPage), and startCursor is its first edge's cursor.
func TestPageInfoOnEveryConnection(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.manyTickets(3) // the seeded solver gets 3 more sessions and ratings
	admin := token(t, seed.Admin)
	sid, guest := e.openSession()
	for i := 0; i < 3; i++ {
		e.must(guest, send, map[string]any{"id": sid, "body": fmt.Sprint(i)})
	}
	const info = `edges { cursor } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }`
	cases := []struct {
		name, query string
		path        []any
		vars        map[string]any
	}{
		{"tickets", `query($a: String) { c: tickets(first: 2, after: $a) { ` + info + ` } }`, []any{"c"}, nil},
		{"ticketQueue", `query($a: String) { c: ticketQueue(first: 2, after: $a) { ` + info + ` } }`, []any{"c"}, nil},
		{"solvers", `query($a: String) { c: solvers(first: 2, after: $a) { ` + info + ` } }`, []any{"c"}, nil},
		{"users", `query($a: String) { c: users(first: 2, after: $a) { ` + info + ` } }`, []any{"c"}, nil},
		{"sessions", `query($a: String) { c: sessions(first: 2, after: $a) { ` + info + ` } }`, []any{"c"}, nil},
		{"Solver.ratings", `query($id: ID!, $a: String) { solver(id: $id) { c: ratings(first: 2, after: $a) { ` + info + ` } } }`,
			[]any{"solver", "c"}, map[string]any{"id": seed.SolverActive}},
		{"Solver.sessions", `query($id: ID!, $a: String) { solver(id: $id) { c: sessions(first: 2, after: $a) { ` + info + ` } } }`,
			[]any{"solver", "c"}, map[string]any{"id": seed.SolverActive}},
		{"Session.messages", `query($id: ID!, $a: String) { session(id: $id) { c: messages(first: 2, after: $a) { ` + info + ` } } }`,
			[]any{"session", "c"}, map[string]any{"id": sid}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vars := map[string]any{}
			for k, v := range c.vars {
				vars[k] = v
			}
			var after any
			for pageNo := 0; pageNo < 2; pageNo++ {
				vars["a"] = after
				conn := get(e.must(admin, c.query, vars), c.path...)
				edges := get(conn, "edges").([]any)
				pi := get(conn, "pageInfo")
				if len(edges) == 0 {
					t.Fatalf("page %d is empty", pageNo)
				}
				if get(pi, "hasPreviousPage") != (pageNo == 1) {
					t.Fatalf("page %d: hasPreviousPage %v", pageNo, get(pi, "hasPreviousPage"))
				}
				if str(pi, "startCursor") != str(edges[0], "cursor") || str(pi, "endCursor") != str(edges[len(edges)-1], "cursor") {
					t.Fatalf("page %d: %v for %v", pageNo, pi, edges)
				}
				if pageNo == 0 && get(pi, "hasNextPage") != true {
					t.Fatalf("page 0 of more than 2 items: hasNextPage %v", get(pi, "hasNextPage"))
				}
				after = get(pi, "endCursor")
			}
		})
	}
}

// The history's reads, two levels deep, with the exact statement count of
// each whatever the number of rows.
var historyQueries = []struct {
	name, query string
	statements  int64
}{
	// 1 viewer lookup, 1 span, 1 page; then one per loader and level:
	// session.messages (authors joined), session.screenShares, session.rating,
	// session.ticket, session.solver; ticket.callLogs, solver.sessions.
	{"sessions", `query($n: Int) { sessions(first: $n) { totalCount edges { node { id
		messages(last: 2) { edges { node { body author { name } } } pageInfo { hasPreviousPage startCursor } }
		screenShares { id } rating { rating } ticket { callLogs { id } statusReason }
		solver { sessions(first: 2) { totalCount edges { node { id } } } } } } } }`, 10},
	// 1 viewer lookup, 1 page (neither totalCount nor hasPreviousPage asked:
	// no count), solver.sessions, session.messages.
	{"solvers", `query($n: Int) { solvers(first: $n) { edges { node { id
		sessions(first: 2) { totalCount edges { node { id messages(last: 1) { edges { node { body } } } } } } } } } }`, 4},
}

// TestHistoryBatching: the session history, Solver.sessions and chat pages
// from the newest cost the same statements for 5 and for 50 rows.
func TestHistoryBatching(t *testing.T) {
	t.Parallel()
	for _, n := range []int{5, 50} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			// The shortest window: every level is read ahead at once
			// (loaders.Ahead), so the count must not depend on how long a
			// loader waits.
			e := newEnvOpts(t, opts{wait: time.Microsecond})
			e.manyTickets(n)
			e.manySolvers(n)
			admin := token(t, seed.Admin)
			for _, q := range historyQueries {
				e.stmts.Store(0)
				d := e.must(admin, q.query, map[string]any{"n": n})
				if got := len(get(d, q.name, "edges").([]any)); got != n {
					t.Fatalf("%s: %d rows", q.name, got)
				}
				if got := e.stmts.Load(); got != q.statements {
					t.Fatalf("%s over %d rows: %d statements, want %d", q.name, n, got, q.statements)
				}
			}
			d := e.must(admin, historyQueries[0].query, map[string]any{"n": n})
			if b := str(d, "sessions", "edges", 0, "node", "messages", "edges", 1, "node", "body"); b != "m" {
				t.Fatalf("messages: %v", get(d, "sessions", "edges", 0, "node", "messages"))
			}
			d = e.must(admin, historyQueries[1].query, map[string]any{"n": n})
			if b := str(d, "solvers", "edges", 0, "node", "sessions", "edges", 0, "node", "messages", "edges", 0, "node", "body"); b != "b" {
				t.Fatalf("solver's sessions: %v", get(d, "solvers", "edges", 0, "node", "sessions"))
			}
		})
	}
}

// manySolvers inserts n active solvers (older than the seed's, so a solver
// list from the start holds them), each with 2 ended sessions of 2 messages.
func (e *env) manySolvers(n int) {
	e.t.Helper()
	ctx := context.Background()
	long := time.Now().Add(-240 * time.Hour)
	for i := 0; i < n; i++ {
		u := &models.User{ClerkID: fmt.Sprintf("bulk_solver_%d", i), Email: fmt.Sprintf("bulk_solver_%d@example.test", i), Role: models.RoleSolver,
			CreatedAt: long}
		if _, err := e.db.NewInsert().Model(u).Exec(ctx); err != nil {
			e.t.Fatal(err)
		}
		s := &models.Solver{UserID: u.ID, Status: models.SolverActive, RevenueSharePercent: 70, CreatedAt: long.Add(time.Duration(i) * time.Second)}
		if _, err := e.db.NewInsert().Model(s).Exec(ctx); err != nil {
			e.t.Fatal(err)
		}
		for j := 0; j < 2; j++ {
			tk := &models.Ticket{CustomerInfo: models.CustomerInfo{Name: "N"}, Description: "bulk", DeviceType: models.DeviceOther,
				Urgency: models.UrgencyLow, Status: models.TicketCompleted, SolverID: &s.ID, CreatedAt: long}
			if _, err := e.db.NewInsert().Model(tk).Exec(ctx); err != nil {
				e.t.Fatal(err)
			}
			ss := &models.Session{TicketID: tk.ID, SolverID: s.ID, Tier: models.TierStandard, StartedAt: &long, EndedAt: &long, MessageCount: 2, CreatedAt: long}
			if _, err := e.db.NewInsert().Model(ss).Exec(ctx); err != nil {
				e.t.Fatal(err)
			}
			ms := []*models.SessionMessage{
				{SessionID: ss.ID, Seq: 1, Sender: models.SenderSolver, AuthorID: &u.ID, Body: "a"},
				{SessionID: ss.ID, Seq: 2, Sender: models.SenderSolver, AuthorID: &u.ID, Body: "b"},
			}
			if _, err := e.db.NewInsert().Model(&ms).Exec(ctx); err != nil {
				e.t.Fatal(err)
			}
		}
	}
}

// TestErrorPathBelowNodes: an error deep in a response keeps its whole path,
// through connection edges and nodes (bound fields that graph/codegen
// resolves without gqlgen's resolver machinery) and list elements.
func TestErrorPathBelowNodes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.wantCode("BAD_USER_INPUT", token(t, seed.Admin), `{ tickets(first: 10, filter: {status: [COMPLETED]}) {
		edges { node { id sessions { id messages(first: 5, after: "bogus") { edges { cursor } } } } } } }`, nil)
	want := fmt.Sprint([]any{"tickets", "edges", 0.0, "node", "sessions", 0.0, "messages"})
	if got := fmt.Sprint(r.Errors[0].Path); got != want {
		t.Errorf("error path %s, want %s: %+v", got, want, r.Errors)
	}
}

// TestUncountedPage: a root list read without totalCount and hasPreviousPage
// skips its count (one statement fewer); asking either reads it, right.
func TestUncountedPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.manyTickets(3)
	admin := token(t, seed.Admin)
	e.must(admin, `{ me { id } }`, nil) // the viewer, cached
	statements := func(selection string) (int64, map[string]any) {
		e.stmts.Store(0)
		d := e.must(admin, `query($after: String) { tickets(first: 2, after: $after) { `+selection+` } }`, map[string]any{"after": nil})
		return e.stmts.Load(), d
	}
	bare, _ := statements(`edges { node { id } }`)
	total, d := statements(`totalCount edges { node { id } }`)
	previous, _ := statements(`pageInfo { hasPreviousPage hasNextPage } edges { node { id } }`)
	if total != bare+1 || previous != bare+1 {
		t.Errorf("statements: %d without the span, %d with totalCount, %d with hasPreviousPage", bare, total, previous)
	}
	if n := get(d, "tickets", "totalCount").(float64); n < 3 {
		t.Errorf("totalCount %v", n)
	}
	// hasPreviousPage after a cursor is still read when asked.
	first := e.must(admin, `{ tickets(first: 1) { edges { cursor } } }`, nil)
	after := str(first, "tickets", "edges", 0, "cursor")
	d = e.must(admin, `query($after: String) { tickets(first: 1, after: $after) { pageInfo { hasPreviousPage } } }`, map[string]any{"after": after})
	if get(d, "tickets", "pageInfo", "hasPreviousPage") != true {
		t.Errorf("hasPreviousPage after the first ticket: %v", d)
	}
}

// TestDeferredFieldAnswers: a query with @defer (resolved by gqlgen's own
// field sets, not the inline ones) answers without an error; over plain HTTP
// the deferred part is not sent.
func TestDeferredFieldAnswers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	d := e.must(token(t, seed.Admin), `{ tickets(first: 2) { edges { node { id ... @defer { description solver { id } } } } } }`, nil)
	if get(d, "tickets", "edges", 0, "node", "id") == nil {
		t.Fatalf("no ticket: %v", d)
	}
}
