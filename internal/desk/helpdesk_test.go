package desk_test

import (
	"fmt"
	"testing"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/desk"
	"github.com/savvysolve/api/internal/store"
	"github.com/savvysolve/api/models"
)

// viewers are one of each kind, around one ticket (t) claimed by solver s1
// for customer c, and its session.
var (
	customer = &models.User{ID: "c", Role: models.RoleCustomer}
	solverU  = &models.User{ID: "u1", Role: models.RoleSolver}
	otherU   = &models.User{ID: "u2", Role: models.RoleSolver}
	adminU   = &models.User{ID: "a", Role: models.RoleAdmin}
	s1       = &models.Solver{ID: "s1", UserID: "u1", Status: models.SolverActive}
	s2       = &models.Solver{ID: "s2", UserID: "u2", Status: models.SolverActive}
	ticket   = &models.Ticket{ID: "t", CustomerID: &customer.ID, SolverID: &s1.ID, Status: models.TicketClaimed}
	session  = &models.Session{ID: "x", TicketID: "t", SolverID: "s1"}

	viewers = map[string]auth.Viewer{
		"admin":        {User: adminU},
		"customer":     {User: customer},
		"guest":        {TicketID: "t"},
		"other guest":  {TicketID: "t2"},
		"solver":       {User: solverU, Solver: s1},
		"other solver": {User: otherU, Solver: s2},
		"anonymous":    {},
	}
)

func TestHelpDeskRules(t *testing.T) {
	rules := map[string]func(auth.Viewer) bool{
		"statusReason":    func(v auth.Viewer) bool { return desk.CanSeeStatusReason(v, ticket) },
		"callLogs":        func(v auth.Viewer) bool { return desk.CanSeeCallLogs(v, ticket) },
		"solverSessions":  func(v auth.Viewer) bool { return desk.CanSeeSolverSessions(v, s1) },
		"sessionUpdated":  func(v auth.Viewer) bool { return desk.CanFollowSession(v, session, ticket) },
		"users":           desk.CanListUsers,
		"solverSessions2": func(v auth.Viewer) bool { return desk.CanSeeSolverSessions(v, s2) },
	}
	// Who may, per rule; everyone else may not.
	want := map[string][]string{
		"statusReason":    {"admin", "customer", "guest", "solver"},
		"callLogs":        {"admin", "customer", "guest", "solver"},
		"solverSessions":  {"admin", "solver"},
		"sessionUpdated":  {"admin", "customer", "guest", "solver"},
		"users":           {"admin"},
		"solverSessions2": {"admin", "other solver"},
	}
	for rule, may := range rules {
		allowed := map[string]bool{}
		for _, name := range want[rule] {
			allowed[name] = true
		}
		for name, v := range viewers {
			if got := may(v); got != allowed[name] {
				t.Errorf("%s for %s: %v, want %v", rule, name, got, allowed[name])
			}
		}
	}
}

func TestCanWork(t *testing.T) {
	for _, c := range []struct {
		role   models.UserRole
		status models.SolverStatus
		want   bool
	}{
		{models.RoleSolver, models.SolverActive, true},
		{models.RoleSolver, models.SolverInactive, false},
		{models.RoleSolver, models.SolverOnboarding, false},
		{models.RoleSolver, models.SolverSuspended, false},
		{models.RoleCustomer, models.SolverActive, false}, // demoted: the profile stays, the work stops
		{models.RoleAdmin, models.SolverActive, false},
	} {
		if got := desk.CanWork(&models.User{Role: c.role}, &models.Solver{Status: c.status}); got != c.want {
			t.Errorf("%s %s: %v", c.role, c.status, got)
		}
	}
}

func TestMessagePage(t *testing.T) {
	ptr := func(n int) *int { return &n }
	s := func(v string) *string { return &v }
	c := store.EncodeCursor
	for _, tc := range []struct {
		first, last   *int
		after, before *string
		want          string
		code          apperr.Code
		field         string
	}{
		{want: "{x 0 0 50 false}"},
		{first: ptr(10), after: s(c(3)), want: "{x 3 0 10 false}"},
		{last: ptr(5), want: "{x 0 0 5 true}"},
		{first: ptr(10), last: ptr(5), before: s(c(9)), want: "{x 0 9 5 true}"}, // last wins
		{after: s(c(2)), before: s(c(6)), want: "{x 2 6 50 false}"},
		{after: s(""), before: s(""), want: "{x 0 0 50 false}"},
		{first: ptr(101), code: apperr.BadUserInput, field: "first"},
		{last: ptr(-1), code: apperr.BadUserInput, field: "last"},
		{last: ptr(2), before: s("nope"), code: apperr.BadUserInput, field: "before"},
		{after: s("nope"), code: apperr.BadUserInput, field: "after"},
	} {
		k, err := desk.MessagePage("x", tc.first, tc.after, tc.last, tc.before)
		if tc.code != "" {
			if e := apperr.From(err); e == nil || e.Code != tc.code || e.Field != tc.field {
				t.Errorf("%+v: error %v, want %s on %s", tc, err, tc.code, tc.field)
			}
			continue
		}
		if err != nil || fmt.Sprint(k) != tc.want {
			t.Errorf("%+v: %v %v, want %s", tc, k, err, tc.want)
		}
	}
}
