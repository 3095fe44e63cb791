package api_test

import (
	"testing"

	"github.com/savvysolve/api/internal/seed"
)

// TestNulRefused: a NUL character (U+0000) in any string input answers
// BAD_USER_INPUT naming the field, before anything is written.
func TestNulRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sid, guest := e.openSession()
	admin := token(t, seed.Admin)
	ticket := func(name, desc string) map[string]any {
		return map[string]any{"in": map[string]any{
			"customerInfo": map[string]any{"name": name, "email": "pat@example.com"},
			"description":  desc, "deviceType": "TABLET",
		}}
	}
	for _, c := range []struct {
		name, tok, query string
		vars             map[string]any
		field            string
	}{
		{"description", "", createTicket, ticket("Pat", "blank\x00pages"), "description"},
		{"customer name", "", createTicket, ticket("P\x00t", "blank pages"), "customerInfo.name"},
		{"message body", guest, send, map[string]any{"id": sid, "body": "hi\x00"}, "body"},
		{"literal", guest, `mutation { sendMessage(sessionId: "` + sid + `", body: "a\u0000b") { id } }`, nil, "body"},
		{"search", admin, `query($s: String) { tickets(filter: {search: $s}) { totalCount } }`, map[string]any{"s": "pr\x00int"}, "filter.search"},
		{"reason", admin, `mutation($id: ID!, $r: String) { cancelTicket(ticketId: $id, reason: $r) { status } }`,
			map[string]any{"id": seed.TicketPending, "r": "\x00"}, "reason"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := e.stmts.Load()
			r := e.wantCode("BAD_USER_INPUT", c.tok, c.query, c.vars)
			if got := r.Errors[0].Extensions["field"]; got != c.field {
				t.Errorf("field %v, want %s (%s)", got, c.field, r.Errors[0].Message)
			}
			if n := e.stmts.Load() - before; n > 1 { // the viewer's lookup at most
				t.Errorf("%d statements ran", n)
			}
		})
	}
}
