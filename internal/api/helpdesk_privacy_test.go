package api_test

import (
	"testing"

	"github.com/savvysolve/api/internal/seed"
)

// TestPrivacyOnHistoryPaths: the new ways to reach sessions, solvers and
// users (the session history, Solver.sessions, the user list, sessionUpdated)
// follow the same field rules as every other path.
func TestPrivacyOnHistoryPaths(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	v := e.newViewers()
	self := []string{"solver", "admin"}
	contact := []string{"customer", "solver", "admin"}

	t.Run("session history", func(t *testing.T) {
		t.Parallel()
		checkPrivacy(t, e, v, `{ sessions(first: 1) { edges { node { earningsCents
			ticket { customerInfo { email } statusReason callLogs { id } }
			solver { revenueSharePercent stats { totalEarningsCents } user { email phone } } } } } }`, nil, []privateField{
			{path: []any{"sessions", "edges", 0, "node", "earningsCents"}, may: self},
			{path: []any{"sessions", "edges", 0, "node", "ticket", "customerInfo", "email"}, may: contact},
			{path: []any{"sessions", "edges", 0, "node", "ticket", "callLogs"}, may: contact},
			{path: []any{"sessions", "edges", 0, "node", "solver", "revenueSharePercent"}, may: self},
			{path: []any{"sessions", "edges", 0, "node", "solver", "stats", "totalEarningsCents"}, may: self},
			{path: []any{"sessions", "edges", 0, "node", "solver", "user", "email"}, may: self},
			{path: []any{"sessions", "edges", 0, "node", "solver", "user", "phone"}, may: self},
		})
	})
	t.Run("a solver's sessions", func(t *testing.T) {
		t.Parallel()
		checkPrivacy(t, e, v, `query($id: ID!) { solver(id: $id) { sessions(first: 1) { totalCount edges { node {
			earningsCents ticket { customerInfo { email } } } } } } }`,
			map[string]any{"id": seed.SolverActive}, []privateField{
				{path: []any{"solver", "sessions", "totalCount"}, may: self},
				{path: []any{"solver", "sessions", "edges", 0, "node", "earningsCents"}, may: self},
				{path: []any{"solver", "sessions", "edges", 0, "node", "ticket", "customerInfo", "email"}, may: self},
			})
	})
	t.Run("user list", func(t *testing.T) {
		t.Parallel()
		checkPrivacy(t, e, v, `{ users(role: SOLVER, search: "seed_solver_1@", first: 1) { edges { node { email phone
			solver { revenueSharePercent stats { totalEarningsCents } } } } } }`, nil, []privateField{
			{path: []any{"users", "edges", 0, "node", "email"}, may: []string{"admin"}},
			{path: []any{"users", "edges", 0, "node", "phone"}, may: []string{"admin"}},
			{path: []any{"users", "edges", 0, "node", "solver", "revenueSharePercent"}, may: []string{"admin"}},
		})
	})
}

// TestPrivacyInSessionUpdated: a sessionUpdated payload shows the customer
// what a query would: no earnings, no solver contact details.
func TestPrivacyInSessionUpdated(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := e.live()
	sid, guest := e.openSession()
	solver, admin := token(t, seed.Solver1), token(t, seed.Admin)
	const q = `subscription($id: ID!) { sessionUpdated(sessionId: $id) { endedAt earningsCents
		ticket { customerInfo { name } } solver { revenueSharePercent user { name email phone } } } }`
	cust, adm := connect(t, srv, "graphql-transport-ws", guest), connect(t, srv, "graphql-transport-ws", admin)
	cust.subscribe("1", q, map[string]any{"id": sid})
	adm.subscribe("1", q, map[string]any{"id": sid})
	subscribed(t, e.hub, 2)
	e.must(solver, end, map[string]any{"id": sid})
	next := func(w *wsClient) any {
		for { // the listener's first catch-up may repeat the session before it ended
			if d := get(w.data("1"), "sessionUpdated"); get(d, "endedAt") != nil {
				return d
			}
		}
	}
	c, a := next(cust), next(adm)
	if str(c, "ticket", "customerInfo", "name") != "Pat" || str(c, "solver", "user", "name") != "Sam Solver" {
		t.Fatalf("customer: %v", c)
	}
	for _, f := range [][]any{{"earningsCents"}, {"solver", "revenueSharePercent"}, {"solver", "user", "email"}, {"solver", "user", "phone"}} {
		if got := get(c, f...); got != nil {
			t.Errorf("customer sees %v = %v", f, got)
		}
		if got := get(a, f...); got == nil {
			t.Errorf("admin does not see %v: %v", f, a)
		}
	}
}
