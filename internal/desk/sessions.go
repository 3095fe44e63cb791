package desk

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/events"
	"github.com/savvysolve/api/internal/pricing"
	"github.com/savvysolve/api/internal/store"
	"github.com/savvysolve/api/models"
)

// StartSession starts the session of a CLAIMED ticket: the ticket becomes
// IN_PROGRESS and the session row, priced for tier, is written in the same
// transaction. Only the ticket's solver may start it.
func (d *Desk) StartSession(ctx context.Context, ticketID string, tier models.TicketTier) (*models.Session, error) {
	v := auth.ViewerFrom(ctx)
	if err := signedIn(v); err != nil {
		return nil, err
	}
	price, err := pricingFor(tier)
	if err != nil {
		return nil, err
	}
	var s *models.Session
	err = d.tx(ctx, func(tx bun.Tx) error {
		t, err := lockTicket(ctx, tx, v, ticketID)
		if err != nil {
			return err
		}
		if !isAssigned(v, t) {
			return apperr.New(apperr.Forbidden, "only the ticket's solver may start its session")
		}
		if _, ok, err := store.SetTicketStatus(ctx, tx, t.ID, []models.TicketStatus{models.TicketClaimed}, models.TicketInProgress, nil); err != nil {
			return err
		} else if !ok {
			return apperr.New(apperr.Conflict, "only a CLAIMED ticket can start a session (it is %s)", strings.ToUpper(string(t.Status)))
		}
		now := time.Now()
		s = &models.Session{TicketID: t.ID, SolverID: v.Solver.ID, Tier: tier, Pricing: &price, StartedAt: &now}
		if err := store.InsertSession(ctx, tx, s); err != nil {
			return err
		}
		if err := events.Publish(ctx, tx, events.Event{Kind: events.Session, ID: s.ID}); err != nil {
			return err
		}
		return events.Publish(ctx, tx, events.Event{Kind: events.Ticket, ID: t.ID, Status: string(models.TicketInProgress)})
	})
	return s, err
}

// participant loads and locks a session and its ticket, and checks that v may
// see it; the row lock serializes writers of one session.
func (d *Desk) participant(ctx context.Context, tx bun.Tx, v auth.Viewer, id string) (*models.Session, *models.Ticket, error) {
	s, err := store.SessionByID(ctx, tx, id, true)
	if err != nil {
		return nil, nil, err
	}
	t, err := store.TicketByID(ctx, tx, s.TicketID, false)
	if err != nil {
		return nil, nil, err
	}
	if !CanSeeSession(v, s, t) {
		return nil, nil, apperr.NotFoundf("session")
	}
	return s, t, nil
}

// SendMessage posts a chat message to an open session: its customer (by
// account or ticket token) or its solver.
func (d *Desk) SendMessage(ctx context.Context, sessionID, body string) (*models.SessionMessage, error) {
	v := auth.ViewerFrom(ctx)
	if err := signedIn(v); err != nil {
		return nil, err
	}
	if n := utf8.RuneCountInString(body); n < 1 || n > 4000 || strings.TrimSpace(body) == "" {
		return nil, apperr.Invalid("body", "body must have 1 to 4000 characters, not only spaces")
	}
	var m *models.SessionMessage
	err := d.tx(ctx, func(tx bun.Tx) error {
		s, t, err := d.participant(ctx, tx, v, sessionID)
		if err != nil {
			return err
		}
		m = &models.SessionMessage{SessionID: s.ID, Body: body}
		switch {
		case isCustomer(v, t):
			m.Sender = models.SenderCustomer
			if v.User != nil {
				m.AuthorID, m.Author = &v.User.ID, v.User
			}
		case v.Solver != nil && v.Solver.ID == s.SolverID:
			m.Sender, m.AuthorID, m.Author = models.SenderSolver, &v.User.ID, v.User
		default: // admins may read a session, not speak in it
			return apperr.New(apperr.Forbidden, "only the session's customer and solver may chat")
		}
		if s.EndedAt != nil {
			return apperr.New(apperr.Conflict, "the session has ended")
		}
		if err := store.InsertMessage(ctx, tx, m); err != nil {
			return err
		}
		return events.Publish(ctx, tx, events.Event{Kind: events.Message, ID: m.ID, SessionID: s.ID, Seq: m.Seq})
	})
	return m, err
}

// EndSession ends a running session: its duration, total price and the
// solver's earnings are set, the ticket becomes COMPLETED, the solver's
// completedSessions and totalEarningsCents grow and a screen share still
// active ends, all in one transaction. The session's solver or an admin.
func (d *Desk) EndSession(ctx context.Context, id string) (*models.Session, error) {
	v := auth.ViewerFrom(ctx)
	if err := signedIn(v); err != nil {
		return nil, err
	}
	var s *models.Session
	err := d.tx(ctx, func(tx bun.Tx) error {
		var t *models.Ticket
		var err error
		if s, t, err = d.participant(ctx, tx, v, id); err != nil {
			return err
		}
		if !v.IsAdmin() && v.SolverID() != s.SolverID {
			return apperr.New(apperr.Forbidden, "only the session's solver or an admin may end it")
		}
		if s.EndedAt != nil || s.StartedAt == nil {
			return apperr.New(apperr.Conflict, "the session is not running")
		}
		solvers, err := store.SolversByIDs(ctx, tx, []string{s.SolverID})
		if err != nil || len(solvers) != 1 {
			return apperr.NotFoundf("solver")
		}
		finish(s, solvers[0].RevenueSharePercent, time.Now())
		if err := store.EndSession(ctx, tx, s); err != nil {
			return err
		}
		if _, ok, err := store.SetTicketStatus(ctx, tx, t.ID, []models.TicketStatus{models.TicketInProgress}, models.TicketCompleted, nil); err != nil {
			return err
		} else if !ok {
			return apperr.New(apperr.Conflict, "the ticket is not in progress")
		}
		if err := store.AddCompletedSession(ctx, tx, s.SolverID, *s.Earnings); err != nil {
			return err
		}
		if err := d.bill(ctx, tx, s); err != nil { // payments.go: no Stripe call here
			return err
		}
		// A screen share still active ends with its session: one change, one event.
		if _, err := store.EndActiveScreenShares(ctx, tx, s.ID); err != nil {
			return err
		}
		if err := events.Publish(ctx, tx, events.Event{Kind: events.Session, ID: s.ID}); err != nil {
			return err
		}
		return events.Publish(ctx, tx, events.Event{Kind: events.Ticket, ID: t.ID, Status: string(models.TicketCompleted)})
	})
	return s, err
}

// finish sets the end of s at now: duration, total and earnings.
func finish(s *models.Session, sharePercent int, now time.Time) {
	seconds := int(now.Sub(*s.StartedAt) / time.Second)
	if seconds < 0 {
		seconds = 0
	}
	p := pricing.For(s.Tier)
	if s.Pricing != nil {
		p = *s.Pricing // the prices the session started with
	}
	total := pricing.Total(p, seconds)
	earnings := pricing.Earnings(total, sharePercent)
	p.TotalCents = &total
	s.EndedAt, s.Duration, s.Pricing, s.Earnings = &now, &seconds, &p, &earnings
}

// RateSession records the customer's rating (1..5) of an ended session, once,
// and recomputes the solver's averageRating and totalRatings in the same transaction.
func (d *Desk) RateSession(ctx context.Context, sessionID string, rating int, comment *string) (*models.Rating, error) {
	v := auth.ViewerFrom(ctx)
	if err := signedIn(v); err != nil {
		return nil, err
	}
	if rating < 1 || rating > 5 {
		return nil, apperr.Invalid("rating", "rating must be between 1 and 5")
	}
	if comment != nil && utf8.RuneCountInString(*comment) > 2000 {
		return nil, apperr.Invalid("comment", "comment must have at most 2000 characters")
	}
	var r *models.Rating
	err := d.tx(ctx, func(tx bun.Tx) error {
		s, t, err := d.participant(ctx, tx, v, sessionID)
		if err != nil {
			return err
		}
		if !isCustomer(v, t) {
			return apperr.New(apperr.Forbidden, "only the ticket's customer may rate its session")
		}
		if s.EndedAt == nil {
			return apperr.New(apperr.Conflict, "a session can be rated once it has ended")
		}
		r = &models.Rating{SessionID: s.ID, SolverID: s.SolverID, Rating: rating, Comment: comment}
		if err := store.InsertRating(ctx, tx, r); err != nil {
			if apperr.CodeOf(err) == apperr.Conflict {
				return apperr.New(apperr.Conflict, "this session is already rated")
			}
			return err
		}
		if err := store.RecomputeRatingStats(ctx, tx, s.SolverID); err != nil {
			return err
		}
		return sessionChanged(ctx, tx, s.ID)
	})
	return r, err
}
