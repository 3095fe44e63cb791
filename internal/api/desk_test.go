package api_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/savvysolve/api/internal/seed"
	"github.com/savvysolve/api/models"
)

const (
	claim   = `mutation($id: ID!) { claimTicket(ticketId: $id) { id status claimedAt solver { id } customerInfo { name } } }`
	start   = `mutation($id: ID!, $tier: TicketTier) { startSession(ticketId: $id, tier: $tier) { id tier startedAt pricing { tier baseCents perMinuteCents totalCents currency } ticket { status } } }`
	send    = `mutation($id: ID!, $body: String!) { sendMessage(sessionId: $id, body: $body) { id sender body author { id } session { id } } }`
	end     = `mutation($id: ID!) { endSession(sessionId: $id) { id durationSeconds earningsCents endedAt pricing { totalCents } ticket { status } solver { stats { completedSessions totalEarningsCents } } } }`
	rate    = `mutation($id: ID!, $r: Int!, $c: String) { rateSession(sessionId: $id, rating: $r, comment: $c) { id rating comment solver { stats { averageRating totalRatings } } } }`
	cancel  = `mutation($id: ID!) { cancelTicket(ticketId: $id, reason: "changed my mind") { id status } }`
	refund  = `mutation($id: ID!) { refundTicket(ticketId: $id, reason: "goodwill") { id status } }`
	getTick = `query($id: ID!) { ticket(id: $id) { id status customerInfo { name } sessions { id } } }`
)

// TestLifecycle walks a guest's ticket from creation to rating and refund.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	solver := token(t, seed.Solver1)
	admin := token(t, seed.Admin)
	id, guest := e.newTicket("")

	// The queue hides contact details until the ticket is claimed.
	q := e.must(solver, `{ ticketQueue(first: 50) { edges { node { id customerInfo { name } } } } }`, nil)
	found := false
	for _, edge := range get(q, "ticketQueue", "edges").([]any) {
		if str(edge, "node", "id") == id {
			found = true
			if get(edge, "node", "customerInfo") != nil {
				t.Error("queue shows contact details before the claim")
			}
		}
	}
	if !found {
		t.Fatal("new ticket is not in the queue")
	}

	c := e.must(solver, claim, map[string]any{"id": id})
	if str(c, "claimTicket", "status") != "CLAIMED" || str(c, "claimTicket", "customerInfo", "name") != "Pat" {
		t.Fatalf("claim: %v", c)
	}
	e.wantCode("CONFLICT", solver, claim, map[string]any{"id": id})

	s := e.must(solver, start, map[string]any{"id": id, "tier": "PRIORITY"})
	sid := str(s, "startSession", "id")
	if str(s, "startSession", "ticket", "status") != "IN_PROGRESS" || str(s, "startSession", "pricing", "baseCents") != "2500" {
		t.Fatalf("start: %v", s)
	}
	e.wantCode("CONFLICT", solver, start, map[string]any{"id": id})

	m := e.must(guest, send, map[string]any{"id": sid, "body": "hello"})
	if str(m, "sendMessage", "sender") != "CUSTOMER" || get(m, "sendMessage", "author") != nil {
		t.Fatalf("guest message: %v", m)
	}
	m = e.must(solver, send, map[string]any{"id": sid, "body": "hi, on it"})
	if str(m, "sendMessage", "sender") != "SOLVER" || str(m, "sendMessage", "author", "id") != seed.UserSolver1 {
		t.Fatalf("solver message: %v", m)
	}
	e.wantCode("BAD_USER_INPUT", guest, send, map[string]any{"id": sid, "body": ""})
	e.wantCode("BAD_USER_INPUT", guest, send, map[string]any{"id": sid, "body": strings.Repeat("x", 4001)})
	e.wantCode("CONFLICT", guest, rate, map[string]any{"id": sid, "r": 5})

	done := e.must(solver, end, map[string]any{"id": sid})
	ended := get(done, "endSession").(map[string]any)
	if str(ended, "ticket", "status") != "COMPLETED" || str(ended, "pricing", "totalCents") == "<nil>" {
		t.Fatalf("end: %v", ended)
	}
	// Seeded solver had 1 completed session; this is the second.
	if str(ended, "solver", "stats", "completedSessions") != "2" {
		t.Fatalf("stats after end: %v", ended["solver"])
	}
	e.wantCode("CONFLICT", solver, end, map[string]any{"id": sid})
	e.wantCode("CONFLICT", guest, send, map[string]any{"id": sid, "body": "after the end"})

	for _, r := range []int{0, 6} {
		res := e.wantCode("BAD_USER_INPUT", guest, rate, map[string]any{"id": sid, "r": r})
		if res.Errors[0].Extensions["field"] != "rating" {
			t.Errorf("rating %d: field %v", r, res.Errors[0].Extensions["field"])
		}
	}
	e.wantCode("FORBIDDEN", solver, rate, map[string]any{"id": sid, "r": 1})
	r := e.must(guest, rate, map[string]any{"id": sid, "r": 4, "c": "good"})
	// Seeded rating 5 and this 4: average 4.50 over 2.
	if str(r, "rateSession", "solver", "stats", "averageRating") != "4.5" || str(r, "rateSession", "solver", "stats", "totalRatings") != "2" {
		t.Fatalf("rating stats: %v", r)
	}
	e.wantCode("CONFLICT", guest, rate, map[string]any{"id": sid, "r": 3})

	e.wantCode("FORBIDDEN", solver, refund, map[string]any{"id": id})
	if str(e.must(admin, refund, map[string]any{"id": id}), "refundTicket", "status") != "REFUNDED" {
		t.Fatal("refund failed")
	}
	e.wantCode("CONFLICT", admin, refund, map[string]any{"id": id})
}

// TestClaimRace: of 50 active solvers claiming one ticket at once, exactly one wins.
func TestClaimRace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id, _ := e.newTicket("")
	const n = 50
	toks := make([]string, n)
	for i := range toks {
		toks[i], _, _ = e.newUser(fmt.Sprintf("racer_%d", i), models.RoleSolver, models.SolverActive)
	}
	var wg sync.WaitGroup
	codes := make([]string, n)
	for i := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = e.do(toks[i], claim, map[string]any{"id": id}).code()
		}()
	}
	wg.Wait()
	wins, conflicts := 0, 0
	for _, c := range codes {
		switch c {
		case "":
			wins++
		case "CONFLICT":
			conflicts++
		default:
			t.Errorf("unexpected code %q", c)
		}
	}
	if wins != 1 || conflicts != n-1 {
		t.Fatalf("wins %d, conflicts %d", wins, conflicts)
	}
}

func TestCreateTicketValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	long := strings.Repeat("a", 5001)
	cases := []struct {
		name, field string
		info        map[string]any
		desc        string
	}{
		{"NoName", "customerInfo.name", map[string]any{"name": " ", "email": "a@b.co"}, "x"},
		{"NoContact", "customerInfo.email", map[string]any{"name": "A"}, "x"},
		{"BadEmail", "customerInfo.email", map[string]any{"name": "A", "email": "not-an-email"}, "x"},
		{"BadPhone", "customerInfo.phone", map[string]any{"name": "A", "phone": "12"}, "x"},
		{"EmptyDescription", "description", map[string]any{"name": "A", "phone": "+1 555 010 9999"}, ""},
		{"LongDescription", "description", map[string]any{"name": "A", "phone": "+1 555 010 9999"}, long},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.wantCode("BAD_USER_INPUT", "", createTicket, map[string]any{"in": map[string]any{
				"customerInfo": c.info, "description": c.desc, "deviceType": "PHONE"}})
			if r.Errors[0].Extensions["field"] != c.field {
				t.Fatalf("field %v, want %s", r.Errors[0].Extensions["field"], c.field)
			}
		})
	}
	// A signed-in customer's ticket is theirs: it shows in their list.
	cust := token(t, seed.Customer3)
	id, _ := e.newTicket(cust)
	list := e.must(cust, `{ tickets(first: 100) { edges { node { id } } } }`, nil)
	if !strings.Contains(fmt.Sprint(list), id) {
		t.Fatal("customer's own ticket missing from tickets")
	}
}

// TestVisibility checks each read rule through GraphQL, refusals included.
func TestVisibility(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin, solver, onboarding := token(t, seed.Admin), token(t, seed.Solver1), token(t, seed.Solver2)
	c1, c2 := token(t, seed.Customer1), token(t, seed.Customer2)
	_, otherGuest := e.newTicket("")

	visible := func(tok, id string) bool {
		r := e.do(tok, getTick, map[string]any{"id": id})
		if r.code() != "" && r.code() != "NOT_FOUND" {
			t.Fatalf("unexpected %+v", r.Errors)
		}
		return get(r.Data, "ticket") != nil
	}
	cases := []struct {
		name, tok, ticket string
		want              bool
	}{
		{"AdminSeesAll", admin, seed.TicketCompleted, true},
		{"CustomerSeesOwn", c1, seed.TicketCompleted, true},
		{"CustomerNotOthers", c2, seed.TicketCompleted, false},
		{"SolverSeesAssigned", solver, seed.TicketClaimed, true},
		{"ActiveSolverSeesQueue", solver, seed.TicketPending, true},
		{"OnboardingSolverNoQueue", onboarding, seed.TicketPending, false},
		{"SolverNotCancelledOfOthers", solver, seed.TicketCancelled, false},
		{"GuestTokenNotOtherTicket", otherGuest, seed.TicketPending, false},
		{"AnonymousNothing", "", seed.TicketPending, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := visible(c.tok, c.ticket); got != c.want {
				t.Fatalf("visible = %v, want %v", got, c.want)
			}
		})
	}

	t.Run("SessionOfOthersIsNotFound", func(t *testing.T) {
		e.wantCode("NOT_FOUND", c2, `query($id: ID!) { session(id: $id) { id } }`, map[string]any{"id": seed.SessionCompleted})
		e.must(c1, `query($id: ID!) { session(id: $id) { id messages { edges { node { body } } } } }`, map[string]any{"id": seed.SessionCompleted})
	})
	t.Run("RatingSessionHiddenFromOthers", func(t *testing.T) {
		r := e.do(c2, `query($id: ID!) { solver(id: $id) { ratings { totalCount edges { node { rating session { id } } } } } }`, map[string]any{"id": seed.SolverActive})
		if r.code() != "NOT_FOUND" {
			t.Fatalf("got %+v", r.Errors)
		}
	})
	t.Run("QueueForActiveSolversAndAdmins", func(t *testing.T) {
		q := `{ ticketQueue { totalCount } }`
		e.must(admin, q, nil)
		e.must(solver, q, nil)
		e.wantCode("FORBIDDEN", onboarding, q, nil)
		e.wantCode("FORBIDDEN", c1, q, nil)
		e.wantCode("UNAUTHENTICATED", "", q, nil)
	})
	t.Run("TicketsScopedByRole", func(t *testing.T) {
		q := `{ tickets(first: 100) { totalCount } }`
		counts := map[string]string{}
		for name, tok := range map[string]string{"admin": admin, "solver": solver, "c1": c1, "guest": otherGuest} {
			counts[name] = str(e.must(tok, q, nil), "tickets", "totalCount")
		}
		want := map[string]string{"admin": "7", "solver": "2", "c1": "2", "guest": "1"}
		if fmt.Sprint(counts) != fmt.Sprint(want) {
			t.Fatalf("counts %v, want %v", counts, want)
		}
	})
	t.Run("AdminOnlyMutations", func(t *testing.T) {
		q := `mutation($id: ID!) { updateSolverStatus(solverId: $id, status: ACTIVE) { status } }`
		e.wantCode("FORBIDDEN", solver, q, map[string]any{"id": seed.SolverOnboarding})
		e.wantCode("FORBIDDEN", c1, `{ solvers { totalCount } }`, nil)
		if str(e.must(admin, q, map[string]any{"id": seed.SolverOnboarding}), "updateSolverStatus", "status") != "ACTIVE" {
			t.Fatal("admin could not activate")
		}
		e.wantCode("NOT_FOUND", admin, q, map[string]any{"id": "00000000-0000-4000-8000-00000000dead"})
	})
	t.Run("OnlyActiveSolversClaim", func(t *testing.T) {
		e.wantCode("FORBIDDEN", c1, claim, map[string]any{"id": seed.TicketPending})
		e.wantCode("UNAUTHENTICATED", "", claim, map[string]any{"id": seed.TicketPending})
	})
	t.Run("CancelRules", func(t *testing.T) {
		e.wantCode("NOT_FOUND", c2, cancel, map[string]any{"id": seed.TicketPending})
		e.wantCode("CONFLICT", admin, cancel, map[string]any{"id": seed.TicketCompleted})
		if str(e.must(c1, cancel, map[string]any{"id": seed.TicketPending}), "cancelTicket", "status") != "CANCELLED" {
			t.Fatal("customer could not cancel")
		}
	})
	t.Run("OnlyAssignedSolverStarts", func(t *testing.T) {
		_, _, _ = e.newUser("other_solver", models.RoleSolver, models.SolverActive)
		e.wantCode("NOT_FOUND", token(t, "other_solver"), start, map[string]any{"id": seed.TicketClaimed})
	})
}

func TestPaginationAndFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := token(t, seed.Admin)
	for i := 0; i < 7; i++ {
		e.newTicket("")
	}
	// Walk all tickets two at a time: every ticket once, in order.
	seen := map[string]bool{}
	after := any(nil)
	for pages := 0; ; pages++ {
		d := e.must(admin, `query($after: String) { tickets(first: 2, after: $after) { totalCount edges { node { id } } pageInfo { hasNextPage endCursor } } }`, map[string]any{"after": after})
		for _, edge := range get(d, "tickets", "edges").([]any) {
			id := str(edge, "node", "id")
			if seen[id] {
				t.Fatalf("ticket %s on two pages", id)
			}
			seen[id] = true
		}
		if get(d, "tickets", "pageInfo", "hasNextPage") != true {
			break
		}
		after = get(d, "tickets", "pageInfo", "endCursor")
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
	}
	if len(seen) != 13 {
		t.Fatalf("saw %d tickets, want 13", len(seen))
	}
	for _, first := range []int{-1, 101} {
		r := e.wantCode("BAD_USER_INPUT", admin, `query($f: Int) { tickets(first: $f) { totalCount } }`, map[string]any{"f": first})
		if r.Errors[0].Extensions["field"] != "first" {
			t.Errorf("field %v", r.Errors[0].Extensions["field"])
		}
	}
	e.wantCode("BAD_USER_INPUT", admin, `{ tickets(after: "garbage") { totalCount } }`, nil)

	// Queue order: most urgent first, then oldest first.
	q := e.must(admin, `{ ticketQueue(first: 100) { edges { node { urgency createdAt } } } }`, nil)
	rank := map[string]int{"CRITICAL": 0, "HIGH": 1, "MEDIUM": 2, "LOW": 3}
	edges := get(q, "ticketQueue", "edges").([]any)
	for i := 1; i < len(edges); i++ {
		a, b := get(edges[i-1], "node").(map[string]any), get(edges[i], "node").(map[string]any)
		ra, rb := rank[a["urgency"].(string)], rank[b["urgency"].(string)]
		if ra > rb || (ra == rb && a["createdAt"].(string) > b["createdAt"].(string)) {
			t.Fatalf("queue out of order at %d: %v then %v", i, a, b)
		}
	}
	filters := []struct {
		filter string
		want   string
	}{
		{`{status: [PENDING]}`, "10"},
		{`{urgency: [CRITICAL]}`, "1"},
		{`{deviceType: [TABLET, PRINTER]}`, "8"},
		{`{search: "flickers"}`, "7"},
		{`{search: "flickrs"}`, "7"},
		{`{search: "router"}`, "1"},
		{`{solverId: "` + seed.SolverActive + `"}`, "2"},
	}
	for _, f := range filters {
		got := str(e.must(admin, `{ tickets(filter: `+f.filter+`) { totalCount } }`, nil), "tickets", "totalCount")
		if got != f.want {
			t.Errorf("filter %s: %s, want %s", f.filter, got, f.want)
		}
	}
}
