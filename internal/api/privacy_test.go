package api_test

import (
	"testing"

	"github.com/savvysolve/api/internal/seed"
	"github.com/savvysolve/api/models"
)

// viewers are the kinds of viewer every private field is walked for.
type viewers struct {
	anonymous, guest, customer, otherCustomer, solver, otherSolver, admin string
}

// newViewers returns a token of each kind: the customer owns the seeded
// completed ticket, the solver worked it, the guest holds a ticket of its own.
func (e *env) newViewers() viewers {
	e.t.Helper()
	other, _, _ := e.newUser("privacy_other_solver", models.RoleSolver, models.SolverActive)
	_, guest := e.newTicket("")
	return viewers{
		guest:         guest,
		customer:      token(e.t, seed.Customer1),
		otherCustomer: token(e.t, seed.Customer2),
		solver:        token(e.t, seed.Solver1),
		otherSolver:   other,
		admin:         token(e.t, seed.Admin),
	}
}

func (v viewers) each(f func(name, tok string)) {
	for _, x := range []struct{ name, tok string }{
		{"anonymous", v.anonymous}, {"guest", v.guest}, {"customer", v.customer}, {"other customer", v.otherCustomer},
		{"solver", v.solver}, {"other solver", v.otherSolver}, {"admin", v.admin},
	} {
		f(x.name, x.tok)
	}
}

// privateField is one path to a private value and who may read it.
type privateField struct {
	path []any
	may  []string // the viewer kinds that see the value; everyone else gets null
}

func (p privateField) allowed(kind string) bool {
	for _, k := range p.may {
		if k == kind {
			return true
		}
	}
	return false
}

// checkPrivacy runs query as every viewer and checks each field: a viewer it
// is for sees a value, any other viewer null (or no data at all).
func checkPrivacy(t *testing.T, e *env, v viewers, query string, vars map[string]any, fields []privateField) {
	t.Helper()
	v.each(func(kind, tok string) {
		r := e.do(tok, query, vars)
		for _, f := range fields {
			got := get(r.Data, f.path...)
			if f.allowed(kind) && got == nil {
				t.Errorf("%s: %v is null (errors %+v), want a value", kind, f.path, r.Errors)
			}
			if !f.allowed(kind) && got != nil {
				t.Errorf("%s: %v = %v, want null", kind, f.path, got)
			}
		}
	})
}

func TestPrivacy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	v := e.newViewers()
	self := []string{"solver", "admin"} // the seeded solver's own details
	customerSelf := []string{"customer", "admin"}

	t.Run("solver profile", func(t *testing.T) {
		t.Parallel()
		checkPrivacy(t, e, v, `query($id: ID!) { solver(id: $id) {
			revenueSharePercent stats { totalEarningsCents } user { email phone } } }`,
			map[string]any{"id": seed.SolverActive}, []privateField{
				{path: []any{"solver", "revenueSharePercent"}, may: self},
				{path: []any{"solver", "stats", "totalEarningsCents"}, may: self},
				{path: []any{"solver", "user", "email"}, may: self},
				{path: []any{"solver", "user", "phone"}, may: self},
			})
	})
	t.Run("public parts of a solver profile", func(t *testing.T) {
		t.Parallel()
		v.each(func(kind, tok string) {
			if kind == "anonymous" {
				return
			}
			d := e.must(tok, `query($id: ID!) { solver(id: $id) { type status user { name role }
				stats { averageRating totalRatings completedSessions } ratings { totalCount } } }`,
				map[string]any{"id": seed.SolverActive})
			if str(d, "solver", "user", "name") != "Sam Solver" || str(d, "solver", "stats", "totalRatings") != "1" ||
				str(d, "solver", "ratings", "totalCount") != "1" || str(d, "solver", "stats", "completedSessions") != "1" {
				t.Errorf("%s: %v", kind, d)
			}
		})
	})
	t.Run("nested in a session", func(t *testing.T) {
		t.Parallel()
		// Only the session's customer, its solver and admins reach it at all.
		checkPrivacy(t, e, v, `query($id: ID!) { session(id: $id) {
			earningsCents
			solver { revenueSharePercent stats { totalEarningsCents } user { email phone } }
			rating { solver { revenueSharePercent user { email phone } } }
			messages { edges { node { author { name email phone } } } }
			ticket { solver { revenueSharePercent user { email } } } } }`,
			map[string]any{"id": seed.SessionCompleted}, []privateField{
				{path: []any{"session", "earningsCents"}, may: self},
				{path: []any{"session", "solver", "revenueSharePercent"}, may: self},
				{path: []any{"session", "solver", "stats", "totalEarningsCents"}, may: self},
				{path: []any{"session", "solver", "user", "email"}, may: self},
				{path: []any{"session", "solver", "user", "phone"}, may: self},
				{path: []any{"session", "rating", "solver", "revenueSharePercent"}, may: self},
				{path: []any{"session", "rating", "solver", "user", "email"}, may: self},
				{path: []any{"session", "rating", "solver", "user", "phone"}, may: self},
				{path: []any{"session", "ticket", "solver", "revenueSharePercent"}, may: self},
				{path: []any{"session", "ticket", "solver", "user", "email"}, may: self},
				// message 1 is the customer's, message 2 the solver's
				{path: []any{"session", "messages", "edges", 0, "node", "author", "email"}, may: customerSelf},
				{path: []any{"session", "messages", "edges", 0, "node", "author", "phone"}, may: customerSelf},
				{path: []any{"session", "messages", "edges", 0, "node", "author", "name"}, may: []string{"customer", "solver", "admin"}},
				{path: []any{"session", "messages", "edges", 1, "node", "author", "email"}, may: self},
				{path: []any{"session", "messages", "edges", 1, "node", "author", "phone"}, may: self},
			})
	})
	t.Run("me", func(t *testing.T) {
		t.Parallel()
		checkPrivacy(t, e, v, `{ me { email phone solver { revenueSharePercent stats { totalEarningsCents } } } }`, nil, []privateField{
			{path: []any{"me", "email"}, may: []string{"customer", "other customer", "solver", "other solver", "admin"}},
			{path: []any{"me", "solver", "revenueSharePercent"}, may: []string{"solver", "other solver"}},
			{path: []any{"me", "solver", "stats", "totalEarningsCents"}, may: []string{"solver", "other solver"}},
		})
	})
	t.Run("ticket lists", func(t *testing.T) {
		t.Parallel()
		checkPrivacy(t, e, v, `{ tickets(filter: {status: [COMPLETED]}) { edges { node {
			solver { revenueSharePercent user { email phone } } } } } }`, nil, []privateField{
			{path: []any{"tickets", "edges", 0, "node", "solver", "revenueSharePercent"}, may: self},
			{path: []any{"tickets", "edges", 0, "node", "solver", "user", "email"}, may: self},
			{path: []any{"tickets", "edges", 0, "node", "solver", "user", "phone"}, may: self},
		})
	})
}

// TestPrivacyInSubscriptions: subscription payloads follow the same field
// rules as queries: a customer's chat shows the solver's name, not contacts.
func TestPrivacyInSubscriptions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := e.live()
	sid, guest := e.openSession()
	solver, admin := token(t, seed.Solver1), token(t, seed.Admin)
	const q = `subscription($id: ID!) { sessionMessages(sessionId: $id) { body author { name email phone solver { revenueSharePercent stats { totalEarningsCents } } } } }`
	cust, adm := connect(t, srv, "graphql-transport-ws", guest), connect(t, srv, "graphql-transport-ws", admin)
	cust.subscribe("1", q, map[string]any{"id": sid})
	adm.subscribe("1", q, map[string]any{"id": sid})
	subscribed(t, e.hub, 2)
	e.must(solver, send, map[string]any{"id": sid, "body": "hello"})
	c, a := cust.data("1"), adm.data("1")
	if str(c, "sessionMessages", "author", "name") != "Sam Solver" {
		t.Fatalf("customer: %v", c)
	}
	for _, f := range [][]any{{"email"}, {"phone"}, {"solver", "revenueSharePercent"}, {"solver", "stats", "totalEarningsCents"}} {
		path := append([]any{"sessionMessages", "author"}, f...)
		if got := get(c, path...); got != nil {
			t.Errorf("customer sees %v = %v", f, got)
		}
		if got := get(a, path...); got == nil {
			t.Errorf("admin does not see %v: %v", f, a)
		}
	}

	// ticketUpdated and ticketQueue carry solvers too.
	id, guest2 := e.newTicket("")
	u := connect(t, srv, "graphql-ws", guest2)
	u.subscribe("u", `subscription($id: ID!) { ticketUpdated(ticketId: $id) { status solver { revenueSharePercent user { name email phone } } } }`, map[string]any{"id": id})
	subscribed(t, e.hub, 3)
	e.must(solver, claim, map[string]any{"id": id})
	d := u.data("u")
	if str(d, "ticketUpdated", "status") == "PENDING" {
		// The subscription's first catch-up may repeat the state before the
		// claim; the claim follows.
		d = u.data("u")
	}
	if str(d, "ticketUpdated", "solver", "user", "name") != "Sam Solver" {
		t.Fatalf("ticketUpdated: %v", d)
	}
	for _, f := range []string{"email", "phone"} {
		if got := get(d, "ticketUpdated", "solver", "user", f); got != nil {
			t.Errorf("ticketUpdated leaks %s: %v", f, got)
		}
	}
	if got := get(d, "ticketUpdated", "solver", "revenueSharePercent"); got != nil {
		t.Errorf("ticketUpdated leaks the revenue share: %v", got)
	}
}
