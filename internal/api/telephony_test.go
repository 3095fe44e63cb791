package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/savvysolve/api/internal/seed"
	"github.com/savvysolve/api/internal/store"
	"github.com/savvysolve/api/models"
)

// TestTelephonyVisibility: the call and SMS logs that the Telnyx jobs write
// (through the same store functions) show on Session.callLogs and
// Ticket.smsLogs to those who may see the session or the ticket's contact
// details, and to no one else.
func TestTelephonyVisibility(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	ticket, session := seed.TicketCompleted, seed.SessionCompleted
	answered, ended := time.Now().Add(-10*time.Minute).UTC(), time.Now().Add(-5*time.Minute).UTC()
	if _, err := store.UpsertCallLog(ctx, e.db, store.CallEvent{
		ProviderID: "v3:call-visible", Direction: models.Inbound, From: "+15550100001", To: "+15550109999",
		Status: "hangup", TicketID: &ticket, SessionID: &session, StartedAt: &answered, EndedAt: &ended,
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.UpsertSmsLog(ctx, e.db, store.SmsEvent{
		ProviderID: "msg-visible", Direction: models.Inbound, From: "+15550100001", To: "+15550109999",
		Body: "my printer is on fire", Status: "received", TicketID: &ticket, SessionID: &session,
	}); err != nil {
		t.Fatal(err)
	}
	// Logs of something else never show up here.
	if _, err := store.UpsertSmsLog(ctx, e.db, store.SmsEvent{
		ProviderID: "msg-unlinked", Direction: models.Inbound, From: "+15550100002", To: "+15550109999",
		Body: "hello?", Status: "received",
	}); err != nil {
		t.Fatal(err)
	}

	const (
		calls = `query($id: ID!) { session(id: $id) { callLogs { id status durationSeconds direction fromNumber session { id } } } }`
		texts = `query($id: ID!) { ticket(id: $id) { smsLogs { id body status direction ticket { id } session { id } } } }`
	)
	_, _, _ = e.newUser("telephony_solver", models.RoleSolver, models.SolverActive)
	tests := []struct {
		name    string
		tok     string
		visible bool
	}{
		{"customer of the ticket", token(t, seed.Customer1), true},
		{"solver of the session", token(t, seed.Solver1), true},
		{"admin", token(t, seed.Admin), true},
		{"other customer", token(t, seed.Customer2), false},
		{"other active solver", token(t, "telephony_solver"), false},
		{"onboarding solver", token(t, seed.Solver2), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.visible {
				e.wantCode("NOT_FOUND", tc.tok, calls, map[string]any{"id": session})
				e.wantCode("NOT_FOUND", tc.tok, texts, map[string]any{"id": ticket})
				return
			}
			c := e.must(tc.tok, calls, map[string]any{"id": session})
			if n := len(get(c, "session", "callLogs").([]any)); n != 1 {
				t.Fatalf("%d call logs, want 1: %v", n, c)
			}
			if got := str(c, "session", "callLogs", 0, "status") + " " + str(c, "session", "callLogs", 0, "durationSeconds") +
				" " + str(c, "session", "callLogs", 0, "direction") + " " + str(c, "session", "callLogs", 0, "session", "id"); got != "hangup 300 INBOUND "+session {
				t.Errorf("call log = %q", got)
			}
			s := e.must(tc.tok, texts, map[string]any{"id": ticket})
			if n := len(get(s, "ticket", "smsLogs").([]any)); n != 1 {
				t.Fatalf("%d sms logs, want 1: %v", n, s)
			}
			if got := str(s, "ticket", "smsLogs", 0, "body") + " / " + str(s, "ticket", "smsLogs", 0, "ticket", "id"); got != "my printer is on fire / "+ticket {
				t.Errorf("sms log = %q", got)
			}
		})
	}

	t.Run("queue solver sees the ticket, not its texts", func(t *testing.T) {
		pending := seed.TicketPending
		if _, err := store.UpsertSmsLog(ctx, e.db, store.SmsEvent{
			ProviderID: "msg-pending", Direction: models.Inbound, From: "+15550100003", To: "+15550109999",
			Body: "still waiting", Status: "received", TicketID: &pending,
		}); err != nil {
			t.Fatal(err)
		}
		q := map[string]any{"id": pending}
		if n := len(get(e.must(token(t, "telephony_solver"), texts, q), "ticket", "smsLogs").([]any)); n != 0 {
			t.Errorf("a solver browsing the queue sees %d texts, want 0 (they carry contact details)", n)
		}
		if n := len(get(e.must(token(t, seed.Admin), texts, q), "ticket", "smsLogs").([]any)); n != 1 {
			t.Errorf("admin sees %d texts, want 1", n)
		}
	})

	t.Run("anonymous", func(t *testing.T) {
		r := e.do("", texts, map[string]any{"id": ticket})
		if r.code() != "NOT_FOUND" && r.code() != "UNAUTHENTICATED" {
			t.Fatalf("anonymous read the texts: %+v %v", r.Errors, r.Data)
		}
	})
}
