package api_test

import (
	"context"
	"strings"
	"testing"

	"github.com/savvysolve/api/internal/seed"
	"github.com/savvysolve/api/internal/store"
	"github.com/savvysolve/api/models"
)

const (
	release  = `mutation($id: ID!, $r: String) { releaseTicket(ticketId: $id, reason: $r) { id status solver { id } claimedAt statusReason customerInfo { name } } }`
	reassign = `mutation($t: ID!, $s: ID!) { reassignTicket(ticketId: $t, solverId: $s) { id status claimedAt solver { id } customerInfo { name } } }`
	link     = `mutation($tok: String!) { linkTicket(accessToken: $tok) { id status customerInfo { name } } }`
	reasonQ  = `query($id: ID!) { ticket(id: $id) { status statusReason } }`
)

// TestReleaseAndReassign: a solver hands a claimed ticket back (the queue
// hears ADDED, the customer the new status), and an admin moves a claimed
// ticket to another active solver.
func TestReleaseAndReassign(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := e.live()
	solver, admin := token(t, seed.Solver1), token(t, seed.Admin)
	other, _, otherID := e.newUser("other_active", models.RoleSolver, models.SolverActive)
	id, guest := e.newTicket("")

	q := connect(t, srv, "graphql-transport-ws", other)
	q.subscribe("q", `subscription { ticketQueue { kind ticket { id status statusReason } } }`, nil)
	u := connect(t, srv, "graphql-ws", guest)
	u.subscribe("u", `subscription($id: ID!) { ticketUpdated(ticketId: $id) { status statusReason solver { id } } }`, map[string]any{"id": id})
	subscribed(t, e.hub, 2)
	// The queue's next event about this ticket (the listener's first catch-up
	// may also announce other recent tickets, or this one's creation).
	queued := func(kind string) map[string]any {
		t.Helper()
		for {
			d := q.data("q")
			if str(d, "ticketQueue", "ticket", "id") != id {
				continue
			}
			if k := str(d, "ticketQueue", "kind"); k != kind {
				if k == "ADDED" && kind == "REMOVED" { // its creation, caught up
					continue
				}
				t.Fatalf("queue: %s, want %s", k, kind)
			}
			return d
		}
	}
	// The ticket's next update; a catch-up may repeat the state before the change.
	updated := func(was string) map[string]any {
		t.Helper()
		for {
			d := u.data("u")
			if str(d, "ticketUpdated", "status") != was {
				return d
			}
		}
	}

	e.must(solver, claim, map[string]any{"id": id})
	queued("REMOVED")
	if s := str(updated("PENDING"), "ticketUpdated", "status"); s != "CLAIMED" {
		t.Fatalf("claim: %s", s)
	}

	t.Run("ReleaseRefusals", func(t *testing.T) {
		e.wantCode("NOT_FOUND", other, release, map[string]any{"id": id}) // not theirs: invisible
		e.wantCode("FORBIDDEN", guest, release, map[string]any{"id": id})
		e.wantCode("UNAUTHENTICATED", "", release, map[string]any{"id": id})
		r := e.wantCode("BAD_USER_INPUT", solver, release, map[string]any{"id": id, "r": strings.Repeat("x", 1001)})
		if r.Errors[0].Extensions["field"] != "reason" {
			t.Errorf("field %v", r.Errors[0].Extensions["field"])
		}
		e.wantCode("CONFLICT", admin, release, map[string]any{"id": seed.TicketPending})
	})

	d := e.must(solver, release, map[string]any{"id": id, "r": "  needs a specialist  "})
	got := get(d, "releaseTicket").(map[string]any)
	// The solver no longer holds the ticket, so its contact details (and the
	// reason, which may carry them) are hidden from them now.
	if got["status"] != "PENDING" || got["solver"] != nil || got["claimedAt"] != nil || got["customerInfo"] != nil || got["statusReason"] != nil {
		t.Fatalf("release: %v", got)
	}
	added := queued("ADDED")
	if get(added, "ticketQueue", "ticket", "statusReason") != nil {
		t.Fatalf("queue after release: %v", added)
	}
	upd := updated("CLAIMED")
	if str(upd, "ticketUpdated", "status") != "PENDING" || str(upd, "ticketUpdated", "statusReason") != "needs a specialist" ||
		get(upd, "ticketUpdated", "solver") != nil {
		t.Fatalf("ticketUpdated after release: %v", upd)
	}
	if r := str(e.must(admin, reasonQ, map[string]any{"id": id}), "ticket", "statusReason"); r != "needs a specialist" {
		t.Fatalf("admin sees reason %q", r)
	}
	queue := e.must(other, `{ ticketQueue(first: 100) { edges { node { id } } } }`, nil)
	if !strings.Contains(str(queue), id) {
		t.Fatal("released ticket is not back in the queue")
	}
	e.wantCode("FORBIDDEN", solver, release, map[string]any{"id": id}) // pending: nobody's to release
	e.wantCode("CONFLICT", admin, release, map[string]any{"id": id})

	// Claimed again, then moved by an admin.
	e.must(solver, claim, map[string]any{"id": id})
	queued("REMOVED")
	updated("PENDING")
	t.Run("ReassignRefusals", func(t *testing.T) {
		vars := func(s string) map[string]any { return map[string]any{"t": id, "s": s} }
		e.wantCode("FORBIDDEN", solver, reassign, vars(otherID))
		e.wantCode("FORBIDDEN", guest, reassign, vars(otherID))
		for _, s := range []string{seed.SolverInactive, seed.SolverOnboarding, seed.SolverActive} {
			r := e.wantCode("BAD_USER_INPUT", admin, reassign, vars(s))
			if r.Errors[0].Extensions["field"] != "solverId" {
				t.Errorf("%s: field %v", s, r.Errors[0].Extensions["field"])
			}
		}
		e.wantCode("NOT_FOUND", admin, reassign, vars("00000000-0000-4000-8000-00000000dead"))
		e.wantCode("NOT_FOUND", admin, reassign, map[string]any{"t": "00000000-0000-4000-8000-00000000dead", "s": otherID})
		e.wantCode("CONFLICT", admin, reassign, map[string]any{"t": seed.TicketPending, "s": otherID})
	})
	d = e.must(admin, reassign, map[string]any{"t": id, "s": otherID})
	if str(d, "reassignTicket", "status") != "CLAIMED" || str(d, "reassignTicket", "solver", "id") != otherID {
		t.Fatalf("reassign: %v", d)
	}
	if upd := u.data("u"); str(upd, "ticketUpdated", "status") != "CLAIMED" || str(upd, "ticketUpdated", "solver", "id") != otherID {
		t.Fatalf("ticketUpdated after reassign: %v", upd)
	}
	// The new solver holds it (contact details, the session); the old one no longer sees it.
	if name := str(e.must(other, getTick, map[string]any{"id": id}), "ticket", "customerInfo", "name"); name != "Pat" {
		t.Fatalf("new solver sees customer %q", name)
	}
	e.wantCode("NOT_FOUND", solver, getTick, map[string]any{"id": id})
	e.wantCode("NOT_FOUND", solver, start, map[string]any{"id": id})
	e.must(other, start, map[string]any{"id": id})
}

// TestLinkTicket: a customer adopts the ticket they opened as a guest.
func TestLinkTicket(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id, guest := e.newTicket("")
	cust, _, _ := e.newUser("linker", models.RoleCustomer, "")
	mine := `{ tickets { totalCount edges { node { id } } } }`

	e.wantCode("UNAUTHENTICATED", guest, link, map[string]any{"tok": guest})
	e.wantCode("UNAUTHENTICATED", "", link, map[string]any{"tok": guest})
	e.wantCode("FORBIDDEN", token(t, seed.Solver1), link, map[string]any{"tok": guest})
	e.wantCode("FORBIDDEN", token(t, seed.Admin), link, map[string]any{"tok": guest})
	r := e.wantCode("BAD_USER_INPUT", cust, link, map[string]any{"tok": "not-a-token"})
	if r.Errors[0].Extensions["field"] != "accessToken" {
		t.Errorf("field %v", r.Errors[0].Extensions["field"])
	}
	e.wantCode("NOT_FOUND", cust, link, map[string]any{"tok": "sst_nothing"})
	if n := str(e.must(cust, mine, nil), "tickets", "totalCount"); n != "0" {
		t.Fatalf("before linking: %s tickets", n)
	}

	for range 2 { // linking again changes nothing
		d := e.must(cust, link, map[string]any{"tok": guest})
		if str(d, "linkTicket", "id") != id || str(d, "linkTicket", "customerInfo", "name") != "Pat" {
			t.Fatalf("link: %v", d)
		}
	}
	list := e.must(cust, mine, nil)
	if str(list, "tickets", "totalCount") != "1" || str(list, "tickets", "edges", 0, "node", "id") != id {
		t.Fatalf("after linking: %v", list)
	}
	// The guest's token keeps working; another account cannot take the ticket.
	e.must(guest, getTick, map[string]any{"id": id})
	e.wantCode("CONFLICT", token(t, seed.Customer2), link, map[string]any{"tok": guest})
	// The linked customer may now act on it as its customer.
	if s := str(e.must(cust, cancel, map[string]any{"id": id}), "cancelTicket", "status"); s != "CANCELLED" {
		t.Fatalf("cancel by the linked customer: %s", s)
	}
}

// TestTicketCallLogsAndReason: Ticket.callLogs (also calls before any
// session) and Ticket.statusReason show to those who may see the ticket's
// contact details, and to no one else.
func TestTicketCallLogsAndReason(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	ticket := seed.TicketReleased // pending, no session yet
	if _, err := store.UpsertCallLog(ctx, e.db, store.CallEvent{
		ProviderID: "v3:before-session", Direction: models.Inbound, From: "+15550000006", To: "+15550109999",
		Status: "hangup", TicketID: &ticket,
	}); err != nil {
		t.Fatal(err)
	}
	other := seed.TicketUrgent
	if _, err := store.UpsertCallLog(ctx, e.db, store.CallEvent{
		ProviderID: "v3:other-ticket", Direction: models.Inbound, From: "+15550000005", To: "+15550109999",
		Status: "hangup", TicketID: &other,
	}); err != nil {
		t.Fatal(err)
	}
	const q = `query($id: ID!) { ticket(id: $id) { statusReason callLogs { id fromNumber session { id } } } }`
	tests := []struct {
		name    string
		tok     string
		visible bool
	}{
		{"customer of the ticket", token(t, seed.Customer3), true},
		{"admin", token(t, seed.Admin), true},
		{"active solver browsing the queue", token(t, seed.Solver1), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := e.must(tc.tok, q, map[string]any{"id": ticket})
			logs := get(d, "ticket", "callLogs").([]any)
			reason := get(d, "ticket", "statusReason")
			if !tc.visible {
				if len(logs) != 0 || reason != nil {
					t.Fatalf("hidden details shown: %v", d)
				}
				return
			}
			if len(logs) != 1 || str(logs[0], "fromNumber") != "+15550000006" || get(logs[0], "session") != nil {
				t.Fatalf("call logs: %v", logs)
			}
			if reason != seed.ReleaseReason {
				t.Fatalf("reason %v", reason)
			}
		})
	}
	// Once the solver claims it, they see both.
	solver := token(t, seed.Solver1)
	e.must(solver, claim, map[string]any{"id": ticket})
	d := e.must(solver, q, map[string]any{"id": ticket})
	if len(get(d, "ticket", "callLogs").([]any)) != 1 || get(d, "ticket", "statusReason") != seed.ReleaseReason {
		t.Fatalf("claimed: %v", d)
	}
}
