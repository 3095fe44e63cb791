package desk

import (
	"testing"
	"time"

	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/payments"
	"github.com/savvysolve/api/models"
)

// TestSessionPaymentVisibility walks every kind of viewer over a session's
// payment in every status.
func TestSessionPaymentVisibility(t *testing.T) {
	t.Parallel()
	customerID, solverID := "u-customer", "s-solver"
	ticket := &models.Ticket{ID: "t-1", CustomerID: &customerID}
	guestTicket := &models.Ticket{ID: "t-2"}
	total := 2650
	session := func(info *models.PaymentInfo) *models.Session {
		now := time.Now()
		return &models.Session{ID: "ss-1", TicketID: "t-1", SolverID: solverID, EndedAt: &now,
			Pricing: &models.Pricing{TotalCents: &total, Currency: "USD"}, PaymentInfo: info}
	}
	viewers := map[string]auth.Viewer{
		"customer":       {User: &models.User{ID: customerID, Role: models.RoleCustomer}},
		"guest token":    {TicketID: "t-1"},
		"solver":         {User: &models.User{ID: "u-solver", Role: models.RoleSolver}, Solver: &models.Solver{ID: solverID, Status: models.SolverActive}},
		"admin":          {User: &models.User{ID: "u-admin", Role: models.RoleAdmin}},
		"other customer": {User: &models.User{ID: "u-other", Role: models.RoleCustomer}},
		"other solver":   {User: &models.User{ID: "u-s2", Role: models.RoleSolver}, Solver: &models.Solver{ID: "s-2", Status: models.SolverActive}},
		"other token":    {TicketID: "t-9"},
		"anonymous":      {},
	}
	seesPayment := map[string]bool{"customer": true, "guest token": true, "solver": true, "admin": true}
	seesSecret := map[string]bool{"customer": true, "guest token": true}

	on := &Desk{billing: billing{pay: payments.New(payments.Config{SecretKey: "sk_test_rules"})}}
	off := &Desk{}
	for _, status := range []models.PaymentStatus{models.PaymentRequiresPayment, models.PaymentProcessing,
		models.PaymentSucceeded, models.PaymentFailed, models.PaymentRefunded} {
		info := &models.PaymentInfo{Status: status, AmountCents: total, Currency: "USD", IntentID: "pi_1", ClientSecret: "pi_1_secret"}
		for name, v := range viewers {
			p := on.SessionPayment(v, session(info), ticket)
			if (p != nil) != seesPayment[name] {
				t.Errorf("%s, %s: payment shown = %v", name, status, p != nil)
				continue
			}
			if p == nil {
				continue
			}
			wantSecret := seesSecret[name] && status == models.PaymentRequiresPayment
			if (p.ClientSecret != nil) != wantSecret {
				t.Errorf("%s, %s: client secret shown = %v, want %v", name, status, p.ClientSecret != nil, wantSecret)
			}
			if p.Status != status || p.AmountCents != total {
				t.Errorf("%s, %s: %+v", name, status, p)
			}
			// Payments off: the same session is UNBILLED for everyone, without a secret.
			if q := off.SessionPayment(v, session(info), ticket); q.Status != models.PaymentUnbilled || q.ClientSecret != nil || q.AmountCents != total {
				t.Errorf("%s, payments off: %+v", name, q)
			}
		}
	}
	// Before the intent exists the customer gets no (empty) secret.
	pending := &models.PaymentInfo{Status: models.PaymentRequiresPayment, AmountCents: total, Currency: "USD"}
	if p := on.SessionPayment(viewers["customer"], session(pending), ticket); p.ClientSecret != nil {
		t.Errorf("secret before the intent: %q", *p.ClientSecret)
	}
	// A guest's ticket: only its token is the customer.
	s := session(&models.PaymentInfo{Status: models.PaymentRequiresPayment, ClientSecret: "x"})
	s.TicketID = "t-2"
	if p := on.SessionPayment(auth.Viewer{TicketID: "t-2"}, s, guestTicket); p == nil || p.ClientSecret == nil {
		t.Errorf("the guest's token: %+v", p)
	}
	if p := on.SessionPayment(viewers["customer"], s, guestTicket); p != nil {
		t.Errorf("a customer reads a guest's payment: %+v", p)
	}
}

// TestNextPayment: Stripe's events in any order never move a payment backwards.
func TestNextPayment(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	ev := func(k PaymentEventKind, sec int) PaymentEvent {
		return PaymentEvent{Kind: k, IntentID: "pi_1", At: t0.Add(time.Duration(sec) * time.Second), Refunded: true, RefundedCents: 100}
	}
	cases := []struct {
		name   string
		from   models.PaymentStatus
		events []PaymentEvent
		want   models.PaymentStatus
	}{
		{"paid", models.PaymentRequiresPayment, []PaymentEvent{ev(IntentSucceeded, 1)}, models.PaymentSucceeded},
		{"processing then paid", models.PaymentRequiresPayment, []PaymentEvent{ev(IntentProcessing, 1), ev(IntentSucceeded, 2)}, models.PaymentSucceeded},
		{"failed then paid", models.PaymentRequiresPayment, []PaymentEvent{ev(IntentFailed, 1), ev(IntentSucceeded, 2)}, models.PaymentSucceeded},
		{"paid then a late failure", models.PaymentRequiresPayment, []PaymentEvent{ev(IntentSucceeded, 2), ev(IntentFailed, 1)}, models.PaymentSucceeded},
		{"paid then a newer failure", models.PaymentRequiresPayment, []PaymentEvent{ev(IntentSucceeded, 1), ev(IntentFailed, 2)}, models.PaymentSucceeded},
		{"a stale processing after a failure", models.PaymentRequiresPayment, []PaymentEvent{ev(IntentFailed, 2), ev(IntentProcessing, 1)}, models.PaymentFailed},
		{"refunded", models.PaymentSucceeded, []PaymentEvent{ev(ChargeRefunded, 1)}, models.PaymentRefunded},
		{"refunded stays", models.PaymentRefunded, []PaymentEvent{ev(IntentSucceeded, 5), ev(IntentFailed, 6)}, models.PaymentRefunded},
		{"unbilled stays", models.PaymentUnbilled, []PaymentEvent{ev(IntentSucceeded, 1)}, models.PaymentUnbilled},
		{"unknown kind", models.PaymentRequiresPayment, []PaymentEvent{{Kind: "payment_intent.created", At: t0}}, models.PaymentRequiresPayment},
	}
	for _, c := range cases {
		info := &models.PaymentInfo{Status: c.from}
		for _, e := range c.events {
			nextPayment(info, e)
		}
		if info.Status != c.want {
			t.Errorf("%s: %s, want %s", c.name, info.Status, c.want)
		}
	}
	// A partial refund records the amount and keeps the payment SUCCEEDED.
	info := &models.PaymentInfo{Status: models.PaymentSucceeded}
	if !nextPayment(info, PaymentEvent{Kind: ChargeRefunded, At: t0, RefundedCents: 500}) || info.Status != models.PaymentSucceeded || info.RefundedCents != 500 {
		t.Errorf("partial refund: %+v", info)
	}
	// The same event twice changes nothing the second time.
	info = &models.PaymentInfo{Status: models.PaymentRequiresPayment}
	if !nextPayment(info, ev(IntentSucceeded, 1)) || nextPayment(info, ev(IntentSucceeded, 1)) {
		t.Error("a repeated event changed the payment again")
	}
}
