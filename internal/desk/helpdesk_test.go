package desk_test

import (
	"testing"

	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/desk"
	"github.com/savvysolve/api/models"
)

// TestHelpDeskRules walks the rules of the help desk's next operations for
// every kind of viewer (the fixtures of rules_test.go), around the CLAIMED
// ticket and its session.
func TestHelpDeskRules(t *testing.T) {
	tk := ticket(models.TicketClaimed)
	session := &models.Session{ID: "x", TicketID: ticketID, SolverID: solverID}
	mine, other := &models.Solver{ID: solverID}, &models.Solver{ID: otherSolverID}
	all := []viewerCase{anonymous, guestOwn, guestOther, customerOwn, customerOther, assignedActive, assignedOnboarding,
		assignedInactive, assignedSuspended, assignedNotSolverRole, otherActive, otherSuspended, otherNotRole, admin, adminSolver}
	assigned := []viewerCase{assignedActive, assignedOnboarding, assignedInactive, assignedSuspended, assignedNotSolverRole}
	admins := []viewerCase{admin, adminSolver}
	contact := append(append([]viewerCase{guestOwn, customerOwn}, assigned...), admins...)
	rules := []struct {
		name    string
		may     func(auth.Viewer) bool
		allowed []viewerCase
	}{
		{"statusReason", func(v auth.Viewer) bool { return desk.CanSeeStatusReason(v, tk) }, contact},
		{"callLogs", func(v auth.Viewer) bool {
			return len(desk.VisibleTicketCallLogs(v, tk, []*models.CallLog{{ID: "l"}})) == 1
		}, contact},
		{"sessionUpdated", func(v auth.Viewer) bool { return desk.AuthorizeSessionUpdates(v, session, tk) == nil }, contact},
		{"the solver's own sessions", func(v auth.Viewer) bool { return desk.AuthorizeSolverSessions(v, mine) == nil },
			append(append([]viewerCase{}, assigned...), admins...)},
		{"another solver's sessions", func(v auth.Viewer) bool { return desk.CanSeeSolverSessions(v, other) },
			append([]viewerCase{otherActive, otherSuspended, otherNotRole}, admins...)},
		{"users", desk.CanListUsers, admins},
	}
	for _, r := range rules {
		for _, c := range all {
			want := false
			for _, a := range r.allowed {
				want = want || a.name == c.name
			}
			if got := r.may(c.v); got != want {
				t.Errorf("%s for %s: %v, want %v", r.name, c.name, got, want)
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
