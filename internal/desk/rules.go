// Package desk is the help desk's domain: who may see what (the read rules,
// pure functions the resolvers call on loaded rows) and the operations that
// change tickets and sessions, each in one transaction that also publishes its
// events. A reviewer reads this package to know the rules.
package desk

import (
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

// CanSeeTicket: admins; the ticket's customer; its solver; and active solvers
// while it waits in the queue.
func CanSeeTicket(v auth.Viewer, t *models.Ticket) bool {
	return v.IsAdmin() || isCustomer(v, t) || isAssigned(v, t) ||
		(t.Status == models.TicketPending && v.ActiveSolver())
}

// CanSeeContact: who may see a ticket's customer details. A solver browsing
// the queue may not, until the ticket is theirs.
func CanSeeContact(v auth.Viewer, t *models.Ticket) bool {
	return v.IsAdmin() || isCustomer(v, t) || isAssigned(v, t)
}

// CanSeeSession: admins, the session's solver, and the ticket's customer.
func CanSeeSession(v auth.Viewer, s *models.Session, t *models.Ticket) bool {
	return v.IsAdmin() || (v.Solver != nil && s.SolverID == v.Solver.ID) || isCustomer(v, t)
}

// CanSeePayment: payment details are for admins only.
func CanSeePayment(v auth.Viewer) bool { return v.IsAdmin() }

// CanSeeSolver: solver profiles are public to everyone with a token (a
// customer needs to know who helps them).
func CanSeeSolver(v auth.Viewer) bool { return !v.Anonymous() }

// CanSeeUserContact: a user's email and phone are for the user themself and
// admins. Others who reach a user (a solver's profile, a chat message's
// author) see the name and role only.
func CanSeeUserContact(v auth.Viewer, u *models.User) bool {
	return v.IsAdmin() || (v.User != nil && v.User.ID == u.ID)
}

// CanSeeEarnings: what a solver earns (revenue share, total earnings, each
// session's share) is for that solver and admins.
func CanSeeEarnings(v auth.Viewer, solverID string) bool {
	return v.IsAdmin() || (v.Solver != nil && v.Solver.ID == solverID)
}

// CanListSolvers: the solver directory with statuses is for admins.
func CanListSolvers(v auth.Viewer) bool { return v.IsAdmin() }
