package desk

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/events"
	"github.com/savvysolve/api/internal/store"
	"github.com/savvysolve/api/models"
)

// Hand-offs: a ticket going back to the queue, to another solver, or from a
// guest to the customer's account.
//
//   - releaseTicket: the ticket's solver (or an admin), CLAIMED -> PENDING.
//   - reassignTicket: admins, a CLAIMED ticket to another ACTIVE solver.
//   - linkTicket: a signed-in CUSTOMER, by the guest token of a ticket that
//     has no account yet. The token keeps working.
//   - Events: a release is a status change and enters the queue (ADDED); a
//     reassignment changes the ticket's solver (ticketUpdated).
//   - statusReason and the ticket's call logs: for those who may see the
//     ticket's contact details (CanSeeContact), since both may carry them.

// checkReason refuses a status reason past 1000 characters.
func checkReason(reason *string) error {
	if reason != nil && utf8.RuneCountInString(*reason) > 1000 {
		return apperr.Invalid("reason", "reason must have at most 1000 characters")
	}
	return nil
}

// ReleaseTicket hands a CLAIMED ticket back to the queue: PENDING, without a
// solver, with the reason given (or none). The ticket's solver or an admin.
// The queue hears ADDED and ticketUpdated subscribers the new status.
func (d *Desk) ReleaseTicket(ctx context.Context, id string, reason *string) (*models.Ticket, error) {
	v := auth.ViewerFrom(ctx)
	if err := signedIn(v); err != nil {
		return nil, err
	}
	reason = trimmed(reason)
	if err := checkReason(reason); err != nil {
		return nil, err
	}
	var out *models.Ticket
	err := d.tx(ctx, func(tx bun.Tx) error {
		t, err := lockTicket(ctx, tx, v, id)
		if err != nil {
			return err
		}
		if !isAssigned(v, t) && !v.IsAdmin() {
			return apperr.New(apperr.Forbidden, "only the ticket's solver (or an admin) may release it")
		}
		t, ok, err := store.ReleaseTicket(ctx, tx, t.ID, reason)
		if err != nil {
			return err
		}
		if !ok {
			return apperr.New(apperr.Conflict, "only a CLAIMED ticket can be released")
		}
		out = t
		return events.Publish(ctx, tx, events.Event{Kind: events.Ticket, ID: t.ID, Queue: "added", Status: string(t.Status)})
	})
	return out, err
}

// ReassignTicket gives a CLAIMED ticket to another ACTIVE solver. Admins only.
func (d *Desk) ReassignTicket(ctx context.Context, id, solverID string) (*models.Ticket, error) {
	v := auth.ViewerFrom(ctx)
	if err := signedIn(v); err != nil {
		return nil, err
	}
	if !v.IsAdmin() {
		return nil, apperr.New(apperr.Forbidden, "only admins reassign tickets")
	}
	var out *models.Ticket
	err := d.tx(ctx, func(tx bun.Tx) error {
		t, err := store.TicketByID(ctx, tx, id, true)
		if err != nil {
			return err
		}
		if t.Status != models.TicketClaimed {
			return apperr.New(apperr.Conflict, "only a CLAIMED ticket can be reassigned (it is %s)", strings.ToUpper(string(t.Status)))
		}
		// The solver's row lock keeps it from going offline until this commits.
		s, err := store.SolverByID(ctx, tx, solverID, true)
		if err != nil {
			return err
		}
		users, err := store.UsersByIDs(ctx, tx, []string{s.UserID})
		if err != nil {
			return err
		}
		if len(users) != 1 || !CanWork(users[0], s) {
			return apperr.Invalid("solverId", "the solver is not ACTIVE")
		}
		if t.SolverID != nil && *t.SolverID == s.ID {
			return apperr.Invalid("solverId", "the ticket is already this solver's")
		}
		t, ok, err := store.ReassignTicket(ctx, tx, t.ID, s.ID)
		if err != nil {
			return err
		}
		if !ok {
			return apperr.New(apperr.Conflict, "only a CLAIMED ticket can be reassigned")
		}
		out = t
		return events.Publish(ctx, tx, events.Event{Kind: events.Ticket, ID: t.ID, Status: string(t.Status)})
	})
	return out, err
}

// CanWork reports whether a solver may take tickets: an ACTIVE profile of a
// user whose role is SOLVER (what Viewer.ActiveSolver checks of a viewer).
func CanWork(u *models.User, s *models.Solver) bool {
	return s.Status == models.SolverActive && u.Role == models.RoleSolver
}

// LinkTicket links the ticket opened with a guest token to the signed-in
// customer's account, so it shows in their tickets and history. Linking a
// ticket that is theirs already changes nothing; one linked to another
// account is CONFLICT.
func (d *Desk) LinkTicket(ctx context.Context, accessToken string) (*models.Ticket, error) {
	v := auth.ViewerFrom(ctx)
	if v.User == nil {
		return nil, errAccount
	}
	if v.User.Role != models.RoleCustomer {
		return nil, apperr.New(apperr.Forbidden, "only customers link tickets to their account")
	}
	accessToken = strings.TrimSpace(accessToken)
	if !strings.HasPrefix(accessToken, auth.TicketTokenPrefix) {
		return nil, apperr.Invalid("accessToken", "accessToken is not a ticket access token (%s...)", auth.TicketTokenPrefix)
	}
	hash := auth.HashTicketToken(accessToken)
	var out *models.Ticket
	err := d.tx(ctx, func(tx bun.Tx) error {
		t, ok, err := store.LinkTicket(ctx, tx, hash, v.User.ID)
		if err != nil {
			return err
		}
		if !ok {
			if t, err = store.TicketByTokenHash(ctx, tx, hash); err != nil {
				return err // NOT_FOUND: no ticket has this token
			}
			if t.CustomerID == nil || *t.CustomerID != v.User.ID {
				return apperr.New(apperr.Conflict, "the ticket is linked to another account")
			}
			out = t
			return nil
		}
		// No event: nothing that a ticketUpdated subscriber sees changed.
		out = t
		return nil
	})
	return out, err
}

// CanSeeStatusReason: the reason a ticket was cancelled, released or
// refunded is free text, and may carry contact details: those who may see
// them.
func CanSeeStatusReason(v auth.Viewer, t *models.Ticket) bool { return CanSeeContact(v, t) }

// VisibleTicketCallLogs: a ticket's calls carry its customer's number, so
// they go to those who may see its contact details.
func VisibleTicketCallLogs(v auth.Viewer, t *models.Ticket, logs []*models.CallLog) []*models.CallLog {
	if logs == nil || !CanSeeContact(v, t) {
		return []*models.CallLog{}
	}
	return logs
}
