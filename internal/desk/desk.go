package desk

import (
	"context"
	"net/mail"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/savvysolve/api/internal/apperr"
	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/database"
	"github.com/savvysolve/api/internal/events"
	"github.com/savvysolve/api/internal/pricing"
	"github.com/savvysolve/api/internal/store"
	"github.com/savvysolve/api/models"
)

// Desk runs the operations that change tickets and sessions.
type Desk struct {
	db *bun.DB
	billing
}

// New returns a Desk on db; without options, payments are off.
func New(db *bun.DB, opts ...Option) *Desk {
	d := &Desk{db: db}
	for _, o := range opts {
		o(d)
	}
	return d
}

// tx runs f in one transaction. f's statements map their own errors; those
// of BEGIN and COMMIT are mapped here (a lost connection is UNAVAILABLE), as
// with the viewer cached a transaction can be a request's first statement.
func (d *Desk) tx(ctx context.Context, f func(bun.Tx) error) error {
	// BEGIN and COMMIT run with a detached context, as every statement does
	// (database.Detach): the connection keeps the last one it saw.
	dctx, release := database.Detach(ctx)
	defer release()
	var ferr error
	err := d.db.RunInTx(dctx, nil, func(_ context.Context, tx bun.Tx) error {
		ferr = f(tx)
		return ferr
	})
	if err != nil && ferr == nil {
		return store.TxErr(err)
	}
	return err
}

// CreateTicketInput is a new ticket as the client sends it.
type CreateTicketInput struct {
	Name, Description string
	Email, Phone      *string
	DeviceType        models.DeviceType
	Urgency           models.Urgency
}

var (
	phoneRE  = regexp.MustCompile(`^\+?[0-9 ()\-.]{7,25}$`)
	digitsRE = regexp.MustCompile(`[0-9]`)
)

func (in *CreateTicketInput) validate() error {
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || utf8.RuneCountInString(in.Name) > 200 {
		return apperr.Invalid("customerInfo.name", "name must have 1 to 200 characters")
	}
	in.Email, in.Phone = trimmed(in.Email), trimmed(in.Phone)
	if in.Email == nil && in.Phone == nil {
		return apperr.Invalid("customerInfo.email", "give an email address or a phone number")
	}
	if in.Email != nil {
		a, err := mail.ParseAddress(*in.Email)
		if err != nil || a.Address != *in.Email || len(*in.Email) > 255 {
			return apperr.Invalid("customerInfo.email", "email is not a valid address")
		}
	}
	if in.Phone != nil {
		digits := strings.Count(digitsRE.ReplaceAllString(*in.Phone, "#"), "#")
		if !phoneRE.MatchString(*in.Phone) || digits < 7 || digits > 15 {
			return apperr.Invalid("customerInfo.phone", "phone must have 7 to 15 digits, optionally with +, spaces, dashes, dots or brackets")
		}
	}
	in.Description = strings.TrimSpace(in.Description)
	if n := utf8.RuneCountInString(in.Description); n < 1 || n > 5000 {
		return apperr.Invalid("description", "description must have 1 to 5000 characters")
	}
	return nil
}

func trimmed(s *string) *string {
	if s == nil {
		return nil
	}
	t := strings.TrimSpace(*s)
	if t == "" {
		return nil
	}
	return &t
}

// CreateTicket opens a ticket, PENDING, and returns it with the guest's access
// token. A signed-in customer's ticket is linked to their account.
func (d *Desk) CreateTicket(ctx context.Context, in CreateTicketInput) (*models.Ticket, string, error) {
	if err := in.validate(); err != nil {
		return nil, "", err
	}
	token, hash := auth.NewTicketToken()
	t := &models.Ticket{
		CustomerInfo:    models.CustomerInfo{Name: in.Name, Email: in.Email, Phone: in.Phone},
		Description:     in.Description,
		DeviceType:      in.DeviceType,
		Urgency:         in.Urgency,
		Status:          models.TicketPending,
		AccessTokenHash: hash,
	}
	if v := auth.ViewerFrom(ctx); v.User != nil && v.User.Role == models.RoleCustomer {
		t.CustomerID = &v.User.ID
	}
	err := d.tx(ctx, func(tx bun.Tx) error {
		if err := store.InsertTicket(ctx, tx, t); err != nil {
			return err
		}
		return events.Publish(ctx, tx, events.Event{Kind: events.Ticket, ID: t.ID, Queue: "added", Status: string(t.Status)})
	})
	if err != nil {
		return nil, "", err
	}
	return t, token, nil
}

// ClaimTicket gives a PENDING ticket to the viewer, an active solver. Of many
// concurrent claims exactly one wins; the others get CONFLICT.
func (d *Desk) ClaimTicket(ctx context.Context, id string) (*models.Ticket, error) {
	v := auth.ViewerFrom(ctx)
	if err := signedIn(v); err != nil {
		return nil, err
	}
	if !v.ActiveSolver() {
		return nil, apperr.New(apperr.Forbidden, "only active solvers may claim tickets")
	}
	var t *models.Ticket
	err := d.tx(ctx, func(tx bun.Tx) error {
		var ok bool
		var err error
		if !store.ValidID(id) {
			return apperr.NotFoundf("ticket")
		}
		if t, ok, err = store.ClaimTicket(ctx, tx, id, v.Solver.ID); err != nil {
			return err
		}
		if !ok {
			// Active solvers see every pending ticket, so a lost race is a
			// CONFLICT even though the ticket is now another solver's.
			t, err := store.TicketByID(ctx, tx, id, false)
			if err != nil {
				return err
			}
			return apperr.New(apperr.Conflict, "the ticket is no longer pending (it is %s)", strings.ToUpper(string(t.Status)))
		}
		return events.Publish(ctx, tx, events.Event{Kind: events.Ticket, ID: t.ID, Queue: "removed", Status: string(t.Status)})
	})
	return t, err
}

// CancelTicket cancels a PENDING or CLAIMED ticket: its customer, its solver or an admin.
func (d *Desk) CancelTicket(ctx context.Context, id string, reason *string) (*models.Ticket, error) {
	v := auth.ViewerFrom(ctx)
	if err := signedIn(v); err != nil {
		return nil, err
	}
	return d.moveTicket(ctx, id, reason, func(t *models.Ticket) error {
		if !(v.IsAdmin() || isCustomer(v, t) || isAssigned(v, t)) {
			return errForbidden
		}
		return nil
	}, []models.TicketStatus{models.TicketPending, models.TicketClaimed}, models.TicketCancelled)
}

// lockTicket locks ticket id until tx ends; a ticket the viewer may not see
// is NOT_FOUND, like one that does not exist.
func lockTicket(ctx context.Context, tx bun.Tx, v auth.Viewer, id string) (*models.Ticket, error) {
	t, err := store.TicketByID(ctx, tx, id, true)
	if err != nil {
		return nil, err
	}
	if !CanSeeTicket(v, t) {
		return nil, apperr.NotFoundf("ticket")
	}
	return t, nil
}

// moveTicket locks the ticket, checks allowed, and moves it from one of from to to.
func (d *Desk) moveTicket(ctx context.Context, id string, reason *string, allowed func(*models.Ticket) error,
	from []models.TicketStatus, to models.TicketStatus) (*models.Ticket, error) {
	v := auth.ViewerFrom(ctx)
	if err := checkReason(reason); err != nil {
		return nil, err
	}
	var out *models.Ticket
	err := d.tx(ctx, func(tx bun.Tx) error {
		t, err := lockTicket(ctx, tx, v, id)
		if err != nil {
			return err
		}
		if err := allowed(t); err != nil {
			return err
		}
		was := t.Status
		t, ok, err := store.SetTicketStatus(ctx, tx, id, from, to, reason)
		if err != nil {
			return err
		}
		if !ok {
			return apperr.New(apperr.Conflict, "a %s ticket cannot become %s", strings.ToUpper(string(was)), strings.ToUpper(string(to)))
		}
		out = t
		e := events.Event{Kind: events.Ticket, ID: t.ID, Status: string(t.Status)}
		if was == models.TicketPending {
			e.Queue = "removed"
		}
		return events.Publish(ctx, tx, e)
	})
	return out, err
}

// UpdateSolverStatus sets a solver's status. Admins only.
func (d *Desk) UpdateSolverStatus(ctx context.Context, id string, status models.SolverStatus) (*models.Solver, error) {
	v := auth.ViewerFrom(ctx)
	if err := signedIn(v); err != nil {
		return nil, err
	}
	if !v.IsAdmin() {
		return nil, apperr.New(apperr.Forbidden, "only admins may change a solver's status")
	}
	if !store.ValidID(id) {
		return nil, apperr.NotFoundf("solver")
	}
	var out *models.Solver
	err := d.tx(ctx, func(tx bun.Tx) error { // the change and its event commit together
		var err error
		out, err = store.SetSolverStatus(ctx, tx, id, status)
		return err
	})
	return out, err
}

// pricingFor is the price list of a tier, unknown tiers refused.
func pricingFor(tier models.TicketTier) (models.Pricing, error) {
	p := pricing.For(tier)
	if p.BaseCents == 0 {
		return p, apperr.Invalid("tier", "unknown tier")
	}
	return p, nil
}
