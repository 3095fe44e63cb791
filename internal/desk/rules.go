// Package desk is the help desk's domain and the one home of its rules: who
// may see what (the read rules below, pure functions on loaded rows, called
// by the resolvers and the live hub on every path), who may do what, and what
// happens on each event (the operations, each in one transaction that also
// publishes its events). A reviewer who asks "who may see X?" or "what
// happens when Y?" reads this package.
package desk

import (
	"strings"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/models"
)

// isCustomer reports whether v is t's customer: the signed-in user who opened
// it, or the guest holding its token.
func isCustomer(v auth.Viewer, t *models.Ticket) bool {
	if v.TicketID != "" && v.TicketID == t.ID {
		return true
	}
	return v.User != nil && t.CustomerID != nil && *t.CustomerID == v.User.ID
}

func isAssigned(v auth.Viewer, t *models.Ticket) bool {
	return v.Solver != nil && t.SolverID != nil && *t.SolverID == v.Solver.ID
}

// canUseQueue: the queue of PENDING tickets is for active solvers and admins.
func canUseQueue(v auth.Viewer) bool { return v.IsAdmin() || v.ActiveSolver() }

// CanSeeTicket: admins; the ticket's customer; its solver; and active solvers
// while it waits in the queue.
func CanSeeTicket(v auth.Viewer, t *models.Ticket) bool {
	return v.IsAdmin() || isCustomer(v, t) || isAssigned(v, t) ||
		(t.Status == models.TicketPending && v.ActiveSolver())
}

// CanSeeContact: who may see a ticket's customer details (and its texts and
// calls, which carry them). A solver browsing the queue may not, until the
// ticket is theirs.
func CanSeeContact(v auth.Viewer, t *models.Ticket) bool {
	return v.IsAdmin() || isCustomer(v, t) || isAssigned(v, t)
}

// CanSeeSession: admins, the session's solver, and the ticket's customer.
func CanSeeSession(v auth.Viewer, s *models.Session, t *models.Ticket) bool {
	return v.IsAdmin() || (v.Solver != nil && s.SolverID == v.Solver.ID) || isCustomer(v, t)
}

// CanSeeSolver: solver profiles (names, type, status, ratings and their
// public stats) are public to everyone with a token: a customer needs to
// know who helps them.
func CanSeeSolver(v auth.Viewer) bool { return !v.Anonymous() }

// CanSeeUserContact: a user's email and phone are for the user themself and
// admins. Others who reach a user (a solver's profile, a chat message's
// author) see the name and role only.
func CanSeeUserContact(v auth.Viewer, u *models.User) bool {
	return v.IsAdmin() || (v.User != nil && v.User.ID == u.ID)
}

// UserEmail is u's email as v may read it: nil for others, and nil while it
// is only the placeholder a first sign-in stored (".invalid" is reserved
// for names that never resolve) until Clerk's webhook brings the real one.
func UserEmail(v auth.Viewer, u *models.User) *string {
	if !CanSeeUserContact(v, u) || strings.HasSuffix(u.Email, "@invalid") {
		return nil
	}
	return &u.Email
}

// CanSeeEarnings: what a solver earns (revenue share, total earnings, each
// session's share) is for that solver and admins.
func CanSeeEarnings(v auth.Viewer, solverID string) bool {
	return v.IsAdmin() || (v.Solver != nil && v.Solver.ID == solverID)
}

// CanListSolvers: the solver directory with statuses is for admins.
func CanListSolvers(v auth.Viewer) bool { return v.IsAdmin() }

// VisibleSessions keeps the sessions of t that v may see.
func VisibleSessions(v auth.Viewer, t *models.Ticket, all []*models.Session) []*models.Session {
	seen := make([]*models.Session, 0, len(all))
	for _, s := range all {
		if CanSeeSession(v, s, t) {
			seen = append(seen, s)
		}
	}
	return seen
}

// VisibleSmsLogs: a ticket's texts carry its customer's number, so they go
// to those who may see its contact details.
func VisibleSmsLogs(v auth.Viewer, t *models.Ticket, logs []*models.SmsLog) []*models.SmsLog {
	if logs == nil || !CanSeeContact(v, t) {
		return []*models.SmsLog{}
	}
	return logs
}

// The subscriptions' rules: each is checked when a subscription starts (and
// its socket re-checks its token while open).

var (
	errSignIn    = apperr.New(apperr.Unauthent, "sign in first")
	errForbidden = apperr.New(apperr.Forbidden, "you may not do this")
	errQueue     = apperr.New(apperr.Forbidden, "the queue is for active solvers and admins")
)

func signedIn(v auth.Viewer) error {
	if v.Anonymous() {
		return errSignIn
	}
	return nil
}

// AuthorizeChat: a session's chat streams to its participants and admins;
// to anyone else the session does not exist.
func AuthorizeChat(v auth.Viewer, s *models.Session, t *models.Ticket) error {
	if err := signedIn(v); err != nil {
		return err
	}
	if !CanSeeSession(v, s, t) {
		return apperr.NotFoundf("session")
	}
	return nil
}

// AuthorizeTicketUpdates: a ticket's changes stream to its customer, its
// solver and admins (not to solvers who only see it in the queue).
func AuthorizeTicketUpdates(v auth.Viewer, t *models.Ticket) error {
	if err := signedIn(v); err != nil {
		return err
	}
	if !CanSeeContact(v, t) {
		return apperr.NotFoundf("ticket")
	}
	return nil
}

// AuthorizeQueue: the queue's changes stream to active solvers and admins.
func AuthorizeQueue(v auth.Viewer) error {
	if err := signedIn(v); err != nil {
		return err
	}
	if !canUseQueue(v) {
		return errQueue
	}
	return nil
}

// AuthorizeSubscription: every subscription needs a token.
func AuthorizeSubscription(v auth.Viewer) error { return signedIn(v) }
