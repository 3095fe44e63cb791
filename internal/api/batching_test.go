package api_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/savvysolve/api/internal/seed"
	"github.com/savvysolve/api/models"
)

// nested reaches every relation of a ticket list, two levels deep.
const nested = `query($n: Int) { tickets(first: $n) { totalCount edges { node {
	id solver { id user { name solver { id } } }
	sessions { id ticket { id } solver { id } rating { rating solver { id } }
		messages(first: 5) { edges { node { body author { name } session { id } } } }
		callLogs { id } screenShares { id } }
	smsLogs { id }
} } } }`

// wantStatements is the exact statement count of nested, whatever the number
// of tickets: 1 viewer lookup + 1 count + 1 page, then one per relation level:
// ticket.solver, solver.user, user.solver, ticket.sessions, session.messages,
// session.rating, session.callLogs, session.screenShares, ticket.smsLogs.
// session.ticket and message.session come from rows already read (primed),
// session.solver, rating.solver and message.author from the loader caches.
const wantStatements = 12

// TestNoNPlusOne: the nested query over 5 and over 50 tickets issues the same
// number of statements.
func TestNoNPlusOne(t *testing.T) {
	t.Parallel()
	for _, n := range []int{5, 50} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			t.Parallel()
			// The shortest window: a level is read ahead at once (loaders.Ahead),
			// so the count must not depend on how long a loader waits.
			e := newEnvOpts(t, opts{wait: time.Microsecond})
			e.manyTickets(n)
			admin := token(t, seed.Admin)
			e.stmts.Store(0)
			d := e.must(admin, nested, map[string]any{"n": n})
			if got := len(get(d, "tickets", "edges").([]any)); got != n {
				t.Fatalf("got %d tickets", got)
			}
			if got := e.stmts.Load(); got != wantStatements {
				t.Fatalf("%d tickets: %d statements, want %d", n, got, wantStatements)
			}
		})
	}
}

// manyTickets inserts n completed tickets (newer than the seed), each with a
// session of 3 messages and a rating.
func (e *env) manyTickets(n int) {
	e.t.Helper()
	ctx := context.Background()
	now := time.Now()
	for i := 0; i < n; i++ {
		solver := seed.SolverActive
		tk := &models.Ticket{CustomerInfo: models.CustomerInfo{Name: "N"}, Description: "bulk", DeviceType: models.DeviceOther,
			Urgency: models.UrgencyLow, Status: models.TicketCompleted, SolverID: &solver, CreatedAt: now.Add(time.Duration(i) * time.Second)}
		if _, err := e.db.NewInsert().Model(tk).Exec(ctx); err != nil {
			e.t.Fatal(err)
		}
		s := &models.Session{TicketID: tk.ID, SolverID: solver, Tier: models.TierStandard, StartedAt: &now, EndedAt: &now, MessageCount: 3}
		if _, err := e.db.NewInsert().Model(s).Exec(ctx); err != nil {
			e.t.Fatal(err)
		}
		author := seed.UserSolver1
		ms := []*models.SessionMessage{}
		for j := 1; j <= 3; j++ {
			ms = append(ms, &models.SessionMessage{SessionID: s.ID, Seq: j, Sender: models.SenderSolver, AuthorID: &author, Body: "m"})
		}
		if _, err := e.db.NewInsert().Model(&ms).Exec(ctx); err != nil {
			e.t.Fatal(err)
		}
		if _, err := e.db.NewInsert().Model(&models.Rating{SessionID: s.ID, SolverID: solver, Rating: 4}).Exec(ctx); err != nil {
			e.t.Fatal(err)
		}
	}
}
