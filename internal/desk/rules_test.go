package desk_test

import (
	"slices"
	"testing"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/desk"
	"github.com/savvysolve/api/models"
)

// The rules are pure functions of a viewer and loaded rows, so these tables
// build both by hand: every kind of viewer against one ticket (opened by
// customerID, claimed by solverID once past PENDING) and its sessions.

const (
	ticketID      = "t-1"
	otherTicketID = "t-2"
	customerID    = "u-customer"
	solverUserID  = "u-solver"
	solverID      = "s-1"
	otherSolverID = "s-2"
)

func user(id string, role models.UserRole) *models.User {
	return &models.User{ID: id, Role: role}
}

// solverViewer is a signed-in user with a solver profile.
func solverViewer(userID string, role models.UserRole, id string, status models.SolverStatus) auth.Viewer {
	return auth.Viewer{
		User:   user(userID, role),
		Solver: &models.Solver{ID: id, UserID: userID, Status: status},
	}
}

type viewerCase struct {
	name string
	v    auth.Viewer
}

var (
	anonymous     = viewerCase{"anonymous", auth.Viewer{}}
	guestOwn      = viewerCase{"guest token of this ticket", auth.Viewer{TicketID: ticketID}}
	guestOther    = viewerCase{"guest token of another ticket", auth.Viewer{TicketID: otherTicketID}}
	customerOwn   = viewerCase{"customer who opened it", auth.Viewer{User: user(customerID, models.RoleCustomer)}}
	customerOther = viewerCase{"another customer", auth.Viewer{User: user("u-other-customer", models.RoleCustomer)}}

	assignedActive     = viewerCase{"its solver, active", solverViewer(solverUserID, models.RoleSolver, solverID, models.SolverActive)}
	assignedOnboarding = viewerCase{"its solver, onboarding", solverViewer(solverUserID, models.RoleSolver, solverID, models.SolverOnboarding)}
	assignedInactive   = viewerCase{"its solver, inactive", solverViewer(solverUserID, models.RoleSolver, solverID, models.SolverInactive)}
	assignedSuspended  = viewerCase{"its solver, suspended", solverViewer(solverUserID, models.RoleSolver, solverID, models.SolverSuspended)}
	// An ACTIVE profile whose user is no longer a SOLVER (role changed in Clerk).
	assignedNotSolverRole = viewerCase{"its solver, active, user role customer", solverViewer(solverUserID, models.RoleCustomer, solverID, models.SolverActive)}

	otherActive    = viewerCase{"another solver, active", solverViewer("u-solver-2", models.RoleSolver, otherSolverID, models.SolverActive)}
	otherSuspended = viewerCase{"another solver, suspended", solverViewer("u-solver-2", models.RoleSolver, otherSolverID, models.SolverSuspended)}
	otherNotRole   = viewerCase{"another solver, active, user role customer", solverViewer("u-solver-2", models.RoleCustomer, otherSolverID, models.SolverActive)}

	admin = viewerCase{"admin", auth.Viewer{User: user("u-admin", models.RoleAdmin)}}
	// An admin who also has a (suspended) solver profile is still an admin.
	adminSolver = viewerCase{"admin with a suspended solver profile", solverViewer("u-admin-2", models.RoleAdmin, "s-admin", models.SolverSuspended)}
)

var statuses = []models.TicketStatus{models.TicketPending, models.TicketClaimed, models.TicketCompleted}

// ticket is the ticket in status st: PENDING has no solver yet.
func ticket(st models.TicketStatus) *models.Ticket {
	t := &models.Ticket{ID: ticketID, Status: st, CustomerID: ptr(customerID)}
	if st != models.TicketPending {
		t.SolverID = ptr(solverID)
	}
	return t
}

func ptr[T any](v T) *T { return &v }

// byStatus is an expectation for PENDING, CLAIMED and COMPLETED.
type byStatus [3]bool

func TestCanSeeTicketAndContact(t *testing.T) {
	t.Parallel()
	all, none := byStatus{true, true, true}, byStatus{}
	queueOnly := byStatus{true, false, false}
	once := byStatus{false, true, true} // once claimed by the viewer
	cases := []struct {
		viewerCase
		ticket, contact byStatus
	}{
		{anonymous, none, none},
		{guestOwn, all, all},
		{guestOther, none, none},
		{customerOwn, all, all},
		{customerOther, none, none},
		// The queue shows PENDING tickets (without contact) to ACTIVE solvers;
		// a ticket's own solver sees it and its contact whatever their status.
		{assignedActive, all, once},
		{assignedOnboarding, once, once},
		{assignedInactive, once, once},
		{assignedSuspended, once, once},
		{assignedNotSolverRole, once, once},
		{otherActive, queueOnly, none},
		{otherSuspended, none, none},
		{otherNotRole, none, none},
		{admin, all, all},
		{adminSolver, all, all},
	}
	for _, c := range cases {
		for i, st := range statuses {
			tk := ticket(st)
			if got := desk.CanSeeTicket(c.v, tk); got != c.ticket[i] {
				t.Errorf("%s, %s: CanSeeTicket = %v, want %v", c.name, st, got, c.ticket[i])
			}
			if got := desk.CanSeeContact(c.v, tk); got != c.contact[i] {
				t.Errorf("%s, %s: CanSeeContact = %v, want %v", c.name, st, got, c.contact[i])
			}
			// What a viewer sees of a ticket's contact they must also see
			// of the ticket itself.
			if c.contact[i] && !c.ticket[i] {
				t.Errorf("%s, %s: table says contact without ticket", c.name, st)
			}
		}
	}
}

// A ticket opened by a guest has no customer id: no signed-in user is its
// customer, only its token's holder.
func TestGuestTicketHasNoAccountCustomer(t *testing.T) {
	t.Parallel()
	tk := &models.Ticket{ID: ticketID, Status: models.TicketClaimed, SolverID: ptr(solverID)}
	for _, c := range []struct {
		viewerCase
		want bool
	}{
		{customerOwn, false},
		{customerOther, false},
		{guestOwn, true},
		{guestOther, false},
		{anonymous, false},
		{assignedActive, true},
		{admin, true},
	} {
		if got := desk.CanSeeContact(c.v, tk); got != c.want {
			t.Errorf("%s: CanSeeContact = %v, want %v", c.name, got, c.want)
		}
		if got := desk.CanSeeTicket(c.v, tk); got != c.want {
			t.Errorf("%s: CanSeeTicket = %v, want %v", c.name, got, c.want)
		}
	}
	// A ticket without an id (not yet stored) is opened by no token.
	if desk.CanSeeTicket(auth.Viewer{}, &models.Ticket{Status: models.TicketClaimed}) {
		t.Error("anonymous sees a ticket with an empty id")
	}
}

// The ticket had two sessions: one with solverID, an earlier one with
// otherSolverID (who released it). Each solver sees their own session only.
func TestSessionRules(t *testing.T) {
	t.Parallel()
	mine := &models.Session{ID: "ss-1", TicketID: ticketID, SolverID: solverID}
	earlier := &models.Session{ID: "ss-0", TicketID: ticketID, SolverID: otherSolverID}
	both, onlyMine, onlyEarlier, none := []string{"ss-0", "ss-1"}, []string{"ss-1"}, []string{"ss-0"}, []string{}
	cases := []struct {
		viewerCase
		visible []string // ids of the sessions VisibleSessions keeps
	}{
		{anonymous, none},
		{guestOwn, both},
		{guestOther, none},
		{customerOwn, both},
		{customerOther, none},
		// A session's solver keeps seeing it whatever their status or role.
		{assignedActive, onlyMine},
		{assignedOnboarding, onlyMine},
		{assignedSuspended, onlyMine},
		{assignedNotSolverRole, onlyMine},
		{otherActive, onlyEarlier},
		{otherSuspended, onlyEarlier},
		{admin, both},
		{adminSolver, both},
	}
	for _, c := range cases {
		for _, st := range statuses {
			tk := ticket(st)
			var got []string
			for _, s := range desk.VisibleSessions(c.v, tk, []*models.Session{earlier, mine}) {
				got = append(got, s.ID)
			}
			if !slices.Equal(got, c.visible) {
				t.Errorf("%s, %s: VisibleSessions = %v, want %v", c.name, st, got, c.visible)
			}
			for _, s := range []*models.Session{earlier, mine} {
				want := slices.Contains(c.visible, s.ID)
				if got := desk.CanSeeSession(c.v, s, tk); got != want {
					t.Errorf("%s, %s: CanSeeSession(%s) = %v, want %v", c.name, st, s.ID, got, want)
				}
				// AuthorizeChat is CanSeeSession behind a sign-in check;
				// a session one may not see does not exist.
				var wantCode apperr.Code
				switch {
				case c.v.Anonymous():
					wantCode = apperr.Unauthent
				case !want:
					wantCode = apperr.NotFound
				}
				checkErr(t, c.name+", "+string(st)+", AuthorizeChat("+s.ID+")", desk.AuthorizeChat(c.v, s, tk), wantCode)
			}
		}
		if got := desk.VisibleSessions(c.v, ticket(models.TicketClaimed), nil); got == nil || len(got) != 0 {
			t.Errorf("%s: VisibleSessions(nil) = %#v, want an empty slice", c.name, got)
		}
	}
}

func TestVisibleSmsLogs(t *testing.T) {
	t.Parallel()
	logs := []*models.SmsLog{{ID: "sms-1", TicketID: ptr(ticketID)}, {ID: "sms-2", TicketID: ptr(ticketID)}}
	for _, c := range []viewerCase{anonymous, guestOwn, guestOther, customerOwn, customerOther,
		assignedActive, assignedSuspended, assignedNotSolverRole, otherActive, admin} {
		for _, st := range statuses {
			tk := ticket(st)
			want := desk.CanSeeContact(c.v, tk)
			got := desk.VisibleSmsLogs(c.v, tk, logs)
			if got == nil {
				t.Errorf("%s, %s: VisibleSmsLogs = nil, want a slice", c.name, st)
			}
			if want && !slices.Equal(got, logs) || !want && len(got) != 0 {
				t.Errorf("%s, %s: VisibleSmsLogs kept %d of %d (may see contact: %v)", c.name, st, len(got), len(logs), want)
			}
			if got := desk.VisibleSmsLogs(c.v, tk, nil); got == nil || len(got) != 0 {
				t.Errorf("%s, %s: VisibleSmsLogs(nil) = %#v, want an empty slice", c.name, st, got)
			}
		}
	}
	// The customer's texts reach the queue's solver only once it is theirs.
	if n := len(desk.VisibleSmsLogs(otherActive.v, ticket(models.TicketPending), logs)); n != 0 {
		t.Errorf("a solver browsing the queue sees %d texts", n)
	}
	if n := len(desk.VisibleSmsLogs(assignedActive.v, ticket(models.TicketClaimed), logs)); n != 2 {
		t.Errorf("the ticket's solver sees %d texts, want 2", n)
	}
}

func TestAuthorizeTicketUpdates(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		viewerCase
		want [3]apperr.Code // PENDING, CLAIMED, COMPLETED; "" is allowed
	}{
		{anonymous, [3]apperr.Code{apperr.Unauthent, apperr.Unauthent, apperr.Unauthent}},
		{guestOwn, [3]apperr.Code{}},
		{guestOther, [3]apperr.Code{apperr.NotFound, apperr.NotFound, apperr.NotFound}},
		{customerOwn, [3]apperr.Code{}},
		{customerOther, [3]apperr.Code{apperr.NotFound, apperr.NotFound, apperr.NotFound}},
		// Not for solvers who only see it in the queue.
		{assignedActive, [3]apperr.Code{apperr.NotFound, "", ""}},
		{assignedSuspended, [3]apperr.Code{apperr.NotFound, "", ""}},
		{assignedNotSolverRole, [3]apperr.Code{apperr.NotFound, "", ""}},
		{otherActive, [3]apperr.Code{apperr.NotFound, apperr.NotFound, apperr.NotFound}},
		{otherSuspended, [3]apperr.Code{apperr.NotFound, apperr.NotFound, apperr.NotFound}},
		{admin, [3]apperr.Code{}},
		{adminSolver, [3]apperr.Code{}},
	} {
		for i, st := range statuses {
			checkErr(t, c.name+", "+string(st), desk.AuthorizeTicketUpdates(c.v, ticket(st)), c.want[i])
		}
	}
}

// The viewer-only rules: no row but the viewer (and, for earnings and
// contact, whose they are).
func TestViewerRules(t *testing.T) {
	t.Parallel()
	customer := user(customerID, models.RoleCustomer)
	solverUser := user(solverUserID, models.RoleSolver)
	cases := []struct {
		viewerCase
		seeSolver, listSolvers bool
		// earnings of solverID; contact details of the customer and of
		// the solver's user
		earnings, customerContact, solverContact bool
		queue, subscription                      apperr.Code
	}{
		{anonymous, false, false, false, false, false, apperr.Unauthent, apperr.Unauthent},
		{guestOwn, true, false, false, false, false, apperr.Forbidden, ""},
		{guestOther, true, false, false, false, false, apperr.Forbidden, ""},
		{customerOwn, true, false, false, true, false, apperr.Forbidden, ""},
		{customerOther, true, false, false, false, false, apperr.Forbidden, ""},
		{assignedActive, true, false, true, false, true, "", ""},
		// The queue is for ACTIVE solvers whose user is a SOLVER; their
		// own earnings and contact stay theirs whatever their status.
		{assignedOnboarding, true, false, true, false, true, apperr.Forbidden, ""},
		{assignedInactive, true, false, true, false, true, apperr.Forbidden, ""},
		{assignedSuspended, true, false, true, false, true, apperr.Forbidden, ""},
		{assignedNotSolverRole, true, false, true, false, true, apperr.Forbidden, ""},
		{otherActive, true, false, false, false, false, "", ""},
		{otherSuspended, true, false, false, false, false, apperr.Forbidden, ""},
		{otherNotRole, true, false, false, false, false, apperr.Forbidden, ""},
		{admin, true, true, true, true, true, "", ""},
		{adminSolver, true, true, true, true, true, "", ""},
	}
	for _, c := range cases {
		if got := desk.CanSeeSolver(c.v); got != c.seeSolver {
			t.Errorf("%s: CanSeeSolver = %v, want %v", c.name, got, c.seeSolver)
		}
		if got := desk.CanListSolvers(c.v); got != c.listSolvers {
			t.Errorf("%s: CanListSolvers = %v, want %v", c.name, got, c.listSolvers)
		}
		if got := desk.CanSeeEarnings(c.v, solverID); got != c.earnings {
			t.Errorf("%s: CanSeeEarnings(%s) = %v, want %v", c.name, solverID, got, c.earnings)
		}
		// Another solver's earnings are for that solver and admins.
		wantOther := c.v.IsAdmin() || c.v.SolverID() == otherSolverID
		if got := desk.CanSeeEarnings(c.v, otherSolverID); got != wantOther {
			t.Errorf("%s: CanSeeEarnings(%s) = %v, want %v", c.name, otherSolverID, got, wantOther)
		}
		if got := desk.CanSeeUserContact(c.v, customer); got != c.customerContact {
			t.Errorf("%s: CanSeeUserContact(customer) = %v, want %v", c.name, got, c.customerContact)
		}
		if got := desk.CanSeeUserContact(c.v, solverUser); got != c.solverContact {
			t.Errorf("%s: CanSeeUserContact(solver's user) = %v, want %v", c.name, got, c.solverContact)
		}
		checkErr(t, c.name+", AuthorizeQueue", desk.AuthorizeQueue(c.v), c.queue)
		checkErr(t, c.name+", AuthorizeSubscription", desk.AuthorizeSubscription(c.v), c.subscription)
	}
	// Rows with empty ids (not yet stored) match no viewer without one.
	if desk.CanSeeEarnings(customerOwn.v, "") {
		t.Error("a customer sees the earnings of an empty solver id")
	}
	if desk.CanSeeUserContact(guestOwn.v, &models.User{}) {
		t.Error("a guest sees the contact of a user with an empty id")
	}
}

// checkErr checks that err is nil when want is "", else an *apperr.Error
// with code want.
func checkErr(t *testing.T, what string, err error, want apperr.Code) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("%s: %v, want no error", what, err)
	case want != "" && err == nil:
		t.Errorf("%s: no error, want %s", what, want)
	case want != "" && apperr.CodeOf(err) != want:
		t.Errorf("%s: %v (code %s), want %s", what, err, apperr.CodeOf(err), want)
	}
}
