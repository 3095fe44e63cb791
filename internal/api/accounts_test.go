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
	applyAsSolver = `mutation($in: SolverApplicationInput!) { applyAsSolver(input: $in) { id status type user { id role solver { id } } } }`
	availability  = `mutation($a: Boolean!) { setMyAvailability(available: $a) { id status } }`
	setRole       = `mutation($id: ID!, $r: UserRole!) { setUserRole(userId: $id, role: $r) { id role solver { status } } }`
	solverStatus  = `mutation($id: ID!, $s: SolverStatus!) { updateSolverStatus(solverId: $id, status: $s) { status } }`
	usersQuery    = `query($role: UserRole, $s: String, $first: Int, $after: String) { users(role: $role, search: $s, first: $first, after: $after) {
		totalCount edges { cursor node { id name email role } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`
)

// TestBecomingASolver walks a customer through applying, being activated,
// going offline and online, and being suspended.
func TestBecomingASolver(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := token(t, seed.Admin)
	cust, custID, _ := e.newUser("applicant", models.RoleCustomer, "")
	_, guest := e.newTicket("")

	t.Run("Refusals", func(t *testing.T) {
		r := e.wantCode("BAD_USER_INPUT", cust, applyAsSolver, map[string]any{"in": map[string]any{"googleEmail": "not an address"}})
		if r.Errors[0].Extensions["field"] != "googleEmail" {
			t.Errorf("field %v", r.Errors[0].Extensions["field"])
		}
		e.wantCode("UNAUTHENTICATED", "", applyAsSolver, map[string]any{"in": map[string]any{}})
		e.wantCode("UNAUTHENTICATED", guest, applyAsSolver, map[string]any{"in": map[string]any{}})
		e.wantCode("FORBIDDEN", admin, applyAsSolver, map[string]any{"in": map[string]any{}})
		e.wantCode("CONFLICT", token(t, seed.Solver1), applyAsSolver, map[string]any{"in": map[string]any{}})
		e.wantCode("FORBIDDEN", token(t, seed.Customer1), availability, map[string]any{"a": true})
		e.wantCode("FORBIDDEN", admin, availability, map[string]any{"a": false})
		e.wantCode("UNAUTHENTICATED", guest, availability, map[string]any{"a": true})
	})

	d := e.must(cust, applyAsSolver, map[string]any{"in": map[string]any{"type": "SPECIALIST", "googleEmail": " applicant@gmail.com "}})
	solverID := str(d, "applyAsSolver", "id")
	if str(d, "applyAsSolver", "status") != "ONBOARDING" || str(d, "applyAsSolver", "type") != "SPECIALIST" ||
		str(d, "applyAsSolver", "user", "role") != "SOLVER" || str(d, "applyAsSolver", "user", "id") != custID ||
		str(d, "applyAsSolver", "user", "solver", "id") != solverID {
		t.Fatalf("applyAsSolver: %v", d)
	}
	var google string
	if err := e.db.NewRaw("SELECT google_email FROM solvers WHERE id = ?", solverID).Scan(t.Context(), &google); err != nil || google != "applicant@gmail.com" {
		t.Fatalf("google_email %q (%v)", google, err)
	}
	e.wantCode("CONFLICT", cust, applyAsSolver, map[string]any{"in": map[string]any{}})

	// ONBOARDING: no switching, no queue, no claims.
	e.wantCode("FORBIDDEN", cust, availability, map[string]any{"a": true})
	e.wantCode("FORBIDDEN", cust, availability, map[string]any{"a": false})
	e.wantCode("FORBIDDEN", cust, claim, map[string]any{"id": seed.TicketPending})

	// An admin activates the profile; the solver goes offline and online.
	e.must(admin, solverStatus, map[string]any{"id": solverID, "s": "ACTIVE"})
	if got := str(e.must(cust, availability, map[string]any{"a": false}), "setMyAvailability", "status"); got != "INACTIVE" {
		t.Fatalf("offline: %s", got)
	}
	e.wantCode("FORBIDDEN", cust, claim, map[string]any{"id": seed.TicketPending})
	e.wantCode("FORBIDDEN", cust, `{ ticketQueue { totalCount } }`, nil)
	for range 2 { // going online twice is going online
		if got := str(e.must(cust, availability, map[string]any{"a": true}), "setMyAvailability", "status"); got != "ACTIVE" {
			t.Fatalf("online: %s", got)
		}
	}
	c := e.must(cust, claim, map[string]any{"id": seed.TicketPending})
	if str(c, "claimTicket", "solver", "id") != solverID {
		t.Fatalf("claim: %v", c)
	}

	// Going offline releases nothing: the claimed ticket stays theirs.
	e.must(cust, availability, map[string]any{"a": false})
	tk := e.must(cust, getTick, map[string]any{"id": seed.TicketPending})
	if str(tk, "ticket", "status") != "CLAIMED" || str(tk, "ticket", "customerInfo", "name") != "Casey Customer" {
		t.Fatalf("ticket after going offline: %v", tk)
	}

	// SUSPENDED: only an admin lifts it.
	e.must(admin, solverStatus, map[string]any{"id": solverID, "s": "SUSPENDED"})
	e.wantCode("FORBIDDEN", cust, availability, map[string]any{"a": true})

	// The seeded offline solver cannot claim until they go online.
	off := token(t, seed.Solver3)
	e.wantCode("FORBIDDEN", off, claim, map[string]any{"id": seed.TicketUrgent})
	e.must(off, availability, map[string]any{"a": true})
	e.must(off, claim, map[string]any{"id": seed.TicketUrgent})
}

func TestSetUserRole(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := token(t, seed.Admin)

	e.wantCode("FORBIDDEN", token(t, seed.Customer1), setRole, map[string]any{"id": seed.UserCustomer1, "r": "ADMIN"})
	e.wantCode("FORBIDDEN", token(t, seed.Solver1), setRole, map[string]any{"id": seed.UserCustomer1, "r": "ADMIN"})
	e.wantCode("UNAUTHENTICATED", "", setRole, map[string]any{"id": seed.UserCustomer1, "r": "ADMIN"})
	e.wantCode("NOT_FOUND", admin, setRole, map[string]any{"id": "00000000-0000-4000-8000-00000000dead", "r": "ADMIN"})
	e.wantCode("NOT_FOUND", admin, setRole, map[string]any{"id": "not-an-id", "r": "ADMIN"})

	// The only admin may not step down.
	e.wantCode("CONFLICT", admin, setRole, map[string]any{"id": seed.UserAdmin, "r": "CUSTOMER"})

	// A new SOLVER gets a profile to onboard; making them a solver again adds none.
	for range 2 {
		d := e.must(admin, setRole, map[string]any{"id": seed.UserCustomer2, "r": "SOLVER"})
		if str(d, "setUserRole", "role") != "SOLVER" || str(d, "setUserRole", "solver", "status") != "ONBOARDING" {
			t.Fatalf("to solver: %v", d)
		}
	}
	var profiles int
	if err := e.db.NewRaw("SELECT count(*) FROM solvers WHERE user_id = ?", seed.UserCustomer2).Scan(t.Context(), &profiles); err != nil || profiles != 1 {
		t.Fatalf("%d profiles (%v)", profiles, err)
	}

	// With a second admin the first may step down; then the second is the last.
	e.must(admin, setRole, map[string]any{"id": seed.UserCustomer3, "r": "ADMIN"})
	if got := str(e.must(admin, setRole, map[string]any{"id": seed.UserAdmin, "r": "CUSTOMER"}), "setUserRole", "role"); got != "CUSTOMER" {
		t.Fatalf("step down: %s", got)
	}
	e.wantCode("FORBIDDEN", admin, setRole, map[string]any{"id": seed.UserCustomer1, "r": "ADMIN"})
	second := token(t, seed.Customer3)
	e.wantCode("CONFLICT", second, setRole, map[string]any{"id": seed.UserCustomer3, "r": "SOLVER"})

	// A deleted user's role no longer changes, and a deleted admin does not
	// count as an admin who remains.
	if _, err := e.db.Exec("UPDATE users SET deleted_at = now() WHERE id = ?", seed.UserCustomer1); err != nil {
		t.Fatal(err)
	}
	e.wantCode("CONFLICT", second, setRole, map[string]any{"id": seed.UserCustomer1, "r": "SOLVER"})
	if _, err := e.db.Exec("UPDATE users SET role = 'admin' WHERE id = ?", seed.UserCustomer1); err != nil {
		t.Fatal(err)
	}
	e.wantCode("CONFLICT", second, setRole, map[string]any{"id": seed.UserCustomer3, "r": "CUSTOMER"})

	// Two admins demoting each other at once: one wins, one admin remains.
	e.must(second, setRole, map[string]any{"id": seed.UserAdmin, "r": "ADMIN"})
	var wg sync.WaitGroup
	codes := make([]string, 2)
	for i, pair := range [][2]string{{admin, seed.UserCustomer3}, {second, seed.UserAdmin}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = e.do(pair[0], setRole, map[string]any{"id": pair[1], "r": "CUSTOMER"}).code()
		}()
	}
	wg.Wait()
	var admins int
	if err := e.db.NewRaw("SELECT count(*) FROM users WHERE role = 'admin' AND deleted_at IS NULL").Scan(t.Context(), &admins); err != nil || admins != 1 {
		t.Fatalf("%d admins left (%v); codes %v", admins, err, codes)
	}
	if fmt.Sprint(codes) != "[ FORBIDDEN]" && fmt.Sprint(codes) != "[FORBIDDEN ]" {
		t.Fatalf("codes %v, want one success and one FORBIDDEN", codes)
	}
}

func TestUserList(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := token(t, seed.Admin)
	e.wantCode("FORBIDDEN", token(t, seed.Customer1), usersQuery, nil)
	e.wantCode("FORBIDDEN", token(t, seed.Solver1), usersQuery, nil)
	e.wantCode("UNAUTHENTICATED", "", usersQuery, nil)
	r := e.wantCode("BAD_USER_INPUT", admin, usersQuery, map[string]any{"s": strings.Repeat("x", 201)})
	if r.Errors[0].Extensions["field"] != "search" {
		t.Errorf("field %v", r.Errors[0].Extensions["field"])
	}

	count := func(vars map[string]any) string {
		return str(e.must(admin, usersQuery, vars), "users", "totalCount")
	}
	cases := []struct {
		name string
		vars map[string]any
		want string
	}{
		{"All", nil, "7"},
		{"Solvers", map[string]any{"role": "SOLVER"}, "3"},
		{"Admins", map[string]any{"role": "ADMIN"}, "1"},
		{"ByName", map[string]any{"s": "dana"}, "1"},
		{"ByEmail", map[string]any{"s": "SEED_CUSTOMER_"}, "3"},
		{"UnderscoreIsLiteral", map[string]any{"s": "r_1@"}, "2"}, // seed_solver_1@, seed_customer_1@
		{"PercentIsLiteral", map[string]any{"s": "%"}, "0"},
		{"RoleAndSearch", map[string]any{"role": "CUSTOMER", "s": "eli"}, "1"},
		{"BlankSearchIsNone", map[string]any{"s": "  "}, "7"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := count(c.vars); got != c.want {
				t.Fatalf("totalCount %s, want %s", got, c.want)
			}
		})
	}

	// Newest first, every user once, in pages of three.
	e.newUser("newest_user", models.RoleCustomer, "")
	var seen []string
	var after any
	for page := 0; ; page++ {
		d := e.must(admin, usersQuery, map[string]any{"first": 3, "after": after})
		edges := get(d, "users", "edges").([]any)
		info := get(d, "users", "pageInfo")
		if get(info, "hasPreviousPage") != (page > 0) {
			t.Fatalf("page %d: hasPreviousPage %v", page, get(info, "hasPreviousPage"))
		}
		if str(info, "startCursor") != str(edges[0], "cursor") || str(info, "endCursor") != str(edges[len(edges)-1], "cursor") {
			t.Fatalf("page %d: cursors %v", page, info)
		}
		for _, edge := range edges {
			seen = append(seen, str(edge, "node", "email"))
		}
		if get(info, "hasNextPage") != true {
			break
		}
		after = get(info, "endCursor")
	}
	if len(seen) != 8 || seen[0] != "newest_user@example.test" {
		t.Fatalf("walked %v", seen)
	}
}
