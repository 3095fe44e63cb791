package models_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/uptrace/bun"
	"github.com/uptrace/bun/schema"

	"github.com/savvysolve/api/internal/dbtest"
	"github.com/savvysolve/api/internal/store"
	"github.com/savvysolve/api/models"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

func ptr[T any](v T) *T { return &v }

// fixture is a small consistent graph of rows: a customer with a ticket that a
// solver (another user) worked on in a session with two messages and a rating.
type fixture struct {
	customer *models.User
	solverU  *models.User
	solver   *models.Solver
	ticket   *models.Ticket
	session  *models.Session
	messages []*models.SessionMessage
	rating   *models.Rating
}

// usec is t as PostgreSQL stores it (microseconds).
func usec(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func insert(t *testing.T, db bun.IDB, model any) {
	t.Helper()
	if _, err := db.NewInsert().Model(model).Returning("*").Exec(context.Background()); err != nil {
		t.Fatalf("insert %T: %v", model, err)
	}
}

func newFixture(t *testing.T, db *bun.DB) *fixture {
	t.Helper()
	started := usec(time.Now().Add(-30 * time.Minute))
	ended := started.Add(12*time.Minute + 5*time.Second)
	fx := &fixture{
		customer: &models.User{ClerkID: "clerk_customer", Email: "customer@example.test", Name: ptr("Casey"), Role: models.RoleCustomer},
		solverU: &models.User{ClerkID: "clerk_solver", Email: "solver@example.test", Name: ptr("Sam"), Phone: ptr("+15550001111"),
			Role: models.RoleSolver, StripeCustomerID: ptr("cus_123")},
	}
	insert(t, db, fx.customer)
	insert(t, db, fx.solverU)
	fx.solver = &models.Solver{UserID: fx.solverU.ID, Type: models.SolverSpecialist, Status: models.SolverActive,
		StripeConnectID: ptr("acct_1"), RevenueSharePercent: 65, GoogleEmail: ptr("sam@gmail.test"),
		Stats: models.SolverStats{AverageRating: ptr(4.5), TotalRatings: 2, CompletedSessions: 3, TotalEarningsCents: 12345}}
	insert(t, db, fx.solver)
	fx.ticket = &models.Ticket{
		CustomerInfo: models.CustomerInfo{Name: "Casey", Email: ptr("customer@example.test")},
		Description:  "Printer prints blank pages", DeviceType: models.DevicePrinter, Urgency: models.UrgencyHigh,
		Status: models.TicketInProgress, SolverID: &fx.solver.ID, ClaimedAt: ptr(started.Add(-time.Minute)),
		CustomerID: &fx.customer.ID, AccessTokenHash: []byte{0xde, 0xad, 0xbe, 0xef},
	}
	insert(t, db, fx.ticket)
	fx.session = &models.Session{TicketID: fx.ticket.ID, SolverID: fx.solver.ID, Duration: ptr(725), Tier: models.TierPriority,
		Pricing:  &models.Pricing{Tier: models.TierPriority, BaseCents: 2500, PerMinuteCents: 150, TotalCents: ptr(4450), Currency: "USD"},
		Earnings: ptr(2892),
		PaymentInfo: &models.PaymentInfo{Status: models.PaymentSucceeded, AmountCents: 4450, Currency: "USD",
			IntentID: "pi_123", ClientSecret: "pi_123_secret_abc", PaidAt: ptr(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC))},
		StartedAt: &started, EndedAt: &ended, MessageCount: 2}
	insert(t, db, fx.session)
	fx.messages = []*models.SessionMessage{
		{SessionID: fx.session.ID, Seq: 1, Sender: models.SenderCustomer, AuthorID: &fx.customer.ID, Body: "Hello"},
		{SessionID: fx.session.ID, Seq: 2, Sender: models.SenderSolver, AuthorID: &fx.solverU.ID, Body: "Hi, let's look"},
	}
	insert(t, db, &fx.messages)
	fx.rating = &models.Rating{SessionID: fx.session.ID, SolverID: fx.solver.ID, Rating: 5, Comment: ptr("great")}
	insert(t, db, fx.rating)
	return fx
}

// pgCode returns the SQLSTATE of err, or "" when err is nil or not from PostgreSQL.
func pgCode(t *testing.T, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	var pg *pgconn.PgError
	if !errors.As(err, &pg) {
		t.Fatalf("error is not a PostgreSQL error: %v", err)
	}
	return pg.Code
}

func count(t *testing.T, db bun.IDB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.NewRaw(query, args...).Scan(context.Background(), &n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestRoundTripThroughRelations(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.New(t)
	fx := newFixture(t, db)

	var s models.Session
	err := db.NewSelect().Model(&s).
		Relation("Ticket").
		Relation("Solver").
		Relation("Messages", func(q *bun.SelectQuery) *bun.SelectQuery { return q.Order("m.seq") }).
		Relation("Rating").
		Where("ss.id = ?", fx.session.ID).
		Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// Generated columns were filled in by the inserts and read back alike.
	for name, v := range map[string]string{"user": fx.customer.ID, "solver": fx.solver.ID, "ticket": fx.ticket.ID,
		"session": fx.session.ID, "rating": fx.rating.ID, "message": fx.messages[0].ID} {
		if !store.ValidID(v) {
			t.Errorf("%s id %q is not a uuid", name, v)
		}
	}
	if fx.customer.CreatedAt.IsZero() || fx.customer.UpdatedAt.IsZero() || fx.messages[0].CreatedAt.IsZero() {
		t.Errorf("created_at/updated_at not read back: %+v", fx.customer)
	}

	if s.TicketID != fx.ticket.ID || s.SolverID != fx.solver.ID || s.Tier != models.TierPriority || s.MessageCount != 2 {
		t.Errorf("session = %+v", s)
	}
	if !reflect.DeepEqual(s.Pricing, fx.session.Pricing) {
		t.Errorf("pricing = %+v, want %+v", s.Pricing, fx.session.Pricing)
	}
	if !reflect.DeepEqual(s.PaymentInfo, fx.session.PaymentInfo) {
		t.Errorf("payment_info = %#v, want %#v", s.PaymentInfo, fx.session.PaymentInfo)
	}
	if *s.Duration != 725 || *s.Earnings != 2892 || !s.StartedAt.Equal(*fx.session.StartedAt) || !s.EndedAt.Equal(*fx.session.EndedAt) {
		t.Errorf("duration/earnings/times = %v %v %v %v", *s.Duration, *s.Earnings, s.StartedAt, s.EndedAt)
	}
	if !s.CreatedAt.Equal(fx.session.CreatedAt) || !s.UpdatedAt.Equal(fx.session.UpdatedAt) {
		t.Errorf("session times = %v %v, want %v %v", s.CreatedAt, s.UpdatedAt, fx.session.CreatedAt, fx.session.UpdatedAt)
	}

	if s.Ticket == nil {
		t.Fatal("Ticket relation not loaded")
	}
	tk := s.Ticket
	if tk.ID != fx.ticket.ID || tk.Description != fx.ticket.Description || tk.DeviceType != models.DevicePrinter ||
		tk.Urgency != models.UrgencyHigh || tk.Status != models.TicketInProgress || *tk.SolverID != fx.solver.ID ||
		*tk.CustomerID != fx.customer.ID || tk.StatusReason != nil || !tk.ClaimedAt.Equal(*fx.ticket.ClaimedAt) {
		t.Errorf("ticket = %+v", tk)
	}
	if !reflect.DeepEqual(tk.CustomerInfo, fx.ticket.CustomerInfo) || tk.CustomerInfo.Phone != nil {
		t.Errorf("customer_info = %+v, want %+v", tk.CustomerInfo, fx.ticket.CustomerInfo)
	}
	if !slices.Equal(tk.AccessTokenHash, fx.ticket.AccessTokenHash) {
		t.Errorf("access_token_hash = %x", tk.AccessTokenHash)
	}

	if s.Solver == nil {
		t.Fatal("Solver relation not loaded")
	}
	sv := s.Solver
	if sv.ID != fx.solver.ID || sv.UserID != fx.solverU.ID || sv.Type != models.SolverSpecialist || sv.Status != models.SolverActive ||
		sv.RevenueSharePercent != 65 || *sv.StripeConnectID != "acct_1" || *sv.GoogleEmail != "sam@gmail.test" {
		t.Errorf("solver = %+v", sv)
	}
	if !reflect.DeepEqual(sv.Stats, fx.solver.Stats) {
		t.Errorf("stats = %+v, want %+v", sv.Stats, fx.solver.Stats)
	}

	if len(s.Messages) != 2 {
		t.Fatalf("messages = %d, want 2", len(s.Messages))
	}
	for i, m := range s.Messages {
		want := fx.messages[i]
		if m.ID != want.ID || m.Seq != i+1 || m.Sender != want.Sender || *m.AuthorID != *want.AuthorID || m.Body != want.Body ||
			!m.CreatedAt.Equal(want.CreatedAt) {
			t.Errorf("message %d = %+v, want %+v", i, m, want)
		}
	}

	if s.Rating == nil {
		t.Fatal("Rating relation not loaded")
	}
	if r := s.Rating; r.ID != fx.rating.ID || r.Rating != 5 || *r.Comment != "great" || r.SolverID != fx.solver.ID || r.SessionID != s.ID {
		t.Errorf("rating = %+v", r)
	}

	// A user with its solver profile, and one without.
	for _, tc := range []struct {
		user   *models.User
		solver string
	}{{fx.solverU, fx.solver.ID}, {fx.customer, ""}} {
		var u models.User
		if err := db.NewSelect().Model(&u).Relation("Solver").Where("u.id = ?", tc.user.ID).Scan(ctx); err != nil {
			t.Fatal(err)
		}
		if u.ClerkID != tc.user.ClerkID || u.Email != tc.user.Email || u.Role != tc.user.Role ||
			!reflect.DeepEqual(u.Name, tc.user.Name) || !reflect.DeepEqual(u.Phone, tc.user.Phone) ||
			!reflect.DeepEqual(u.StripeCustomerID, tc.user.StripeCustomerID) {
			t.Errorf("user = %+v, want %+v", u, tc.user)
		}
		switch {
		case tc.solver == "" && u.Solver != nil:
			t.Errorf("user %s has solver %+v, want none", u.ClerkID, u.Solver)
		case tc.solver != "" && (u.Solver == nil || u.Solver.ID != tc.solver):
			t.Errorf("user %s solver = %+v, want %s", u.ClerkID, u.Solver, tc.solver)
		}
	}

	// The has-many side of tickets, and belongs-to from a message.
	var tk2 models.Ticket
	if err := db.NewSelect().Model(&tk2).Relation("Sessions").Relation("Solver").Where("t.id = ?", fx.ticket.ID).Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if len(tk2.Sessions) != 1 || tk2.Sessions[0].ID != fx.session.ID || tk2.Solver == nil || tk2.Solver.ID != fx.solver.ID {
		t.Errorf("ticket relations: sessions %v solver %v", tk2.Sessions, tk2.Solver)
	}
	var m models.SessionMessage
	if err := db.NewSelect().Model(&m).Relation("Author").Relation("Session").Where("m.id = ?", fx.messages[1].ID).Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if m.Author == nil || m.Author.ID != fx.solverU.ID || m.Session == nil || m.Session.ID != fx.session.ID {
		t.Errorf("message relations: author %v session %v", m.Author, m.Session)
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.New(t)
	u := &models.User{ClerkID: "c", Email: "c@example.test"}
	insert(t, db, u)
	if u.Role != models.RoleCustomer || u.CreatedAt.IsZero() || !u.CreatedAt.Equal(u.UpdatedAt) {
		t.Errorf("user defaults = %+v", u)
	}
	s := &models.Solver{UserID: u.ID}
	insert(t, db, s)
	want := models.SolverStats{}
	if s.Type != models.SolverGeneral || s.Status != models.SolverOnboarding || s.RevenueSharePercent != 70 || !reflect.DeepEqual(s.Stats, want) {
		// Bun writes DEFAULT for a zero field with a default: tag.
		t.Errorf("solver defaults = %+v", s)
	}
	var raw string
	if err := db.NewRaw("SELECT stats::text FROM solvers WHERE id = ?", s.ID).Scan(ctx, &raw); err != nil {
		t.Fatal(err)
	}
	if raw != `{"totalRatings": 0, "averageRating": null, "completedSessions": 0, "totalEarningsCents": 0}` {
		t.Errorf("stats of a new solver = %s", raw)
	}
}

func TestDeleteCascades(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name string
		// target returns the table and id of the row to delete, after adding rows of its own.
		target   func(*testing.T, *bun.DB, *fixture) (table, id string)
		gone     []string // counts that must drop from >0 to 0 (? is the deleted id)
		detached []string // counts of rows that must survive with their link set to NULL
	}{
		{
			name: "session removes its messages, rating and screen shares",
			target: func(t *testing.T, db *bun.DB, fx *fixture) (string, string) {
				return "sessions", fx.session.ID
			},
			gone: []string{
				"SELECT count(*) FROM session_messages WHERE session_id = ?",
				"SELECT count(*) FROM ratings WHERE session_id = ?",
				"SELECT count(*) FROM screen_share_sessions WHERE session_id = ?",
			},
			detached: []string{
				"SELECT count(*) FROM call_logs WHERE provider_id = 'call-1' AND session_id IS NULL AND ticket_id IS NOT NULL",
				"SELECT count(*) FROM sms_logs WHERE provider_id = 'sms-1' AND session_id IS NULL AND ticket_id IS NOT NULL",
			},
		},
		{
			name: "session without rating removes its messages",
			target: func(t *testing.T, db *bun.DB, fx *fixture) (string, string) {
				if _, err := db.NewDelete().Model(fx.rating).WherePK().Exec(ctx); err != nil {
					t.Fatal(err)
				}
				return "sessions", fx.session.ID
			},
			gone: []string{"SELECT count(*) FROM session_messages WHERE session_id = ?"},
		},
		{
			name: "user without history removes its solver profile",
			target: func(t *testing.T, db *bun.DB, fx *fixture) (string, string) {
				u := &models.User{ClerkID: "lonely", Email: "l@example.test", Role: models.RoleSolver}
				insert(t, db, u)
				insert(t, db, &models.Solver{UserID: u.ID, Type: models.SolverGeneral, Status: models.SolverOnboarding, RevenueSharePercent: 70})
				return "users", u.ID
			},
			gone: []string{"SELECT count(*) FROM solvers WHERE user_id = ?"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := dbtest.New(t)
			fx := newFixture(t, db)
			insert(t, db, &models.ScreenShareSession{SessionID: fx.session.ID, Provider: "zoom", Status: "ended"})
			insert(t, db, &models.CallLog{TicketID: &fx.ticket.ID, SessionID: &fx.session.ID, ProviderID: "call-1",
				Direction: models.Inbound, FromNumber: "+1", ToNumber: "+2", Status: "completed"})
			insert(t, db, &models.SmsLog{TicketID: &fx.ticket.ID, SessionID: &fx.session.ID, ProviderID: "sms-1",
				Direction: models.Outbound, FromNumber: "+1", ToNumber: "+2", Body: "hi", Status: "sent"})
			table, id := tc.target(t, db, fx)
			for _, q := range tc.gone {
				if n := count(t, db, q, id); n == 0 {
					t.Fatalf("precondition: %s = 0 before the delete", q)
				}
			}
			res, err := db.NewDelete().TableExpr("?", bun.Ident(table)).Where("id = ?", id).Exec(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				t.Fatalf("deleted %d rows, want 1", n)
			}
			for _, q := range tc.gone {
				if n := count(t, db, q, id); n != 0 {
					t.Errorf("%s = %d after the delete, want 0", q, n)
				}
			}
			for _, q := range tc.detached {
				if n := count(t, db, q); n != 1 {
					t.Errorf("%s = %d after the delete, want 1", q, n)
				}
			}
		})
	}
}

func TestConstraints(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// newSession adds a session without a rating to the fixture's ticket.
	newSession := func(t *testing.T, db bun.IDB, fx *fixture) *models.Session {
		t.Helper()
		s := &models.Session{TicketID: fx.ticket.ID, SolverID: fx.solver.ID}
		insert(t, db, s)
		return s
	}
	rate := func(n int) func(*testing.T, *bun.DB, *fixture) error {
		return func(t *testing.T, db *bun.DB, fx *fixture) error {
			s := newSession(t, db, fx)
			_, err := db.NewInsert().Model(&models.Rating{SessionID: s.ID, SolverID: fx.solver.ID, Rating: n}).Exec(ctx)
			return err
		}
	}
	tests := []struct {
		name string
		op   func(*testing.T, *bun.DB, *fixture) error
		code string // "" when the statement must succeed
	}{
		{"duplicate clerk_id", func(t *testing.T, db *bun.DB, fx *fixture) error {
			_, err := db.NewInsert().Model(&models.User{ClerkID: fx.customer.ClerkID, Email: "other@example.test"}).Exec(ctx)
			return err
		}, "23505"},
		{"distinct clerk_id", func(t *testing.T, db *bun.DB, fx *fixture) error {
			_, err := db.NewInsert().Model(&models.User{ClerkID: "someone_else", Email: fx.customer.Email}).Exec(ctx)
			return err
		}, ""},
		{"second rating of a session", func(t *testing.T, db *bun.DB, fx *fixture) error {
			_, err := db.NewInsert().Model(&models.Rating{SessionID: fx.session.ID, SolverID: fx.solver.ID, Rating: 4}).Exec(ctx)
			return err
		}, "23505"},
		{"rating 0", rate(0), "23514"},
		{"rating 1", rate(1), ""},
		{"rating 5", rate(5), ""},
		{"rating 6", rate(6), "23514"},
		{"delete a user with a ticket", func(t *testing.T, db *bun.DB, fx *fixture) error {
			_, err := db.NewDelete().Model(fx.customer).WherePK().Exec(ctx)
			return err
		}, "23503"},
		{"delete a ticket with a session", func(t *testing.T, db *bun.DB, fx *fixture) error {
			_, err := db.NewDelete().Model(fx.ticket).WherePK().Exec(ctx)
			return err
		}, "23503"},
		{"duplicate message seq", func(t *testing.T, db *bun.DB, fx *fixture) error {
			_, err := db.NewInsert().Model(&models.SessionMessage{SessionID: fx.session.ID, Seq: 2, Sender: models.SenderSystem, Body: "x"}).Exec(ctx)
			return err
		}, "23505"},
		{"empty message body", func(t *testing.T, db *bun.DB, fx *fixture) error {
			_, err := db.NewInsert().Model(&models.SessionMessage{SessionID: fx.session.ID, Seq: 3, Sender: models.SenderSystem}).Exec(ctx)
			return err
		}, "23514"},
		{"revenue share over 100", func(t *testing.T, db *bun.DB, fx *fixture) error {
			_, err := db.NewUpdate().Model(fx.solver).Set("revenue_share_percent = 101").WherePK().Exec(ctx)
			return err
		}, "23514"},
		{"second solver profile of a user", func(t *testing.T, db *bun.DB, fx *fixture) error {
			_, err := db.NewInsert().Model(&models.Solver{UserID: fx.solverU.ID}).Exec(ctx)
			return err
		}, "23505"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := dbtest.New(t)
			fx := newFixture(t, db)
			err := tc.op(t, db, fx)
			if got := pgCode(t, err); got != tc.code {
				t.Errorf("SQLSTATE = %q, want %q (err: %v)", got, tc.code, err)
			}
		})
	}
}

func TestUpdatedAtMoves(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name   string
		table  string
		id     func(*fixture) string
		update func(*testing.T, *bun.DB, *fixture) time.Time // returns updated_at as the caller sees it
	}{
		{"whole user", "users", func(fx *fixture) string { return fx.customer.ID },
			func(t *testing.T, db *bun.DB, fx *fixture) time.Time {
				u := fx.customer
				u.Name = ptr("Casey Renamed")
				if _, err := db.NewUpdate().Model(u).WherePK().Exec(ctx); err != nil {
					t.Fatal(err)
				}
				return u.UpdatedAt
			}},
		{"whole ticket", "tickets", func(fx *fixture) string { return fx.ticket.ID },
			func(t *testing.T, db *bun.DB, fx *fixture) time.Time {
				tk := fx.ticket
				tk.Description = "Printer still prints blank pages"
				if _, err := db.NewUpdate().Model(tk).WherePK().Exec(ctx); err != nil {
					t.Fatal(err)
				}
				return tk.UpdatedAt
			}},
		{"store.SetSolverStatus", "solvers", func(fx *fixture) string { return fx.solver.ID },
			func(t *testing.T, db *bun.DB, fx *fixture) time.Time {
				s, err := store.SetSolverStatus(ctx, db, fx.solver.ID, models.SolverSuspended)
				if err != nil {
					t.Fatal(err)
				}
				if s.Status != models.SolverSuspended {
					t.Errorf("status = %s", s.Status)
				}
				return s.UpdatedAt
			}},
		{"store.SetTicketStatus", "tickets", func(fx *fixture) string { return fx.ticket.ID },
			func(t *testing.T, db *bun.DB, fx *fixture) time.Time {
				tk, ok, err := store.SetTicketStatus(ctx, db, fx.ticket.ID,
					[]models.TicketStatus{models.TicketInProgress}, models.TicketCompleted, nil)
				if err != nil || !ok {
					t.Fatalf("SetTicketStatus: ok=%v err=%v", ok, err)
				}
				return tk.UpdatedAt
			}},
		{"store.EndSession", "sessions", func(fx *fixture) string { return fx.session.ID },
			func(t *testing.T, db *bun.DB, fx *fixture) time.Time {
				s := fx.session
				s.Duration = ptr(900)
				if err := store.EndSession(ctx, db, s); err != nil {
					t.Fatal(err)
				}
				return s.UpdatedAt
			}},
		{"store.AddCompletedSession", "solvers", func(fx *fixture) string { return fx.solver.ID },
			func(t *testing.T, db *bun.DB, fx *fixture) time.Time {
				if err := store.AddCompletedSession(ctx, db, fx.solver.ID, 100); err != nil {
					t.Fatal(err)
				}
				return time.Time{}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := dbtest.New(t)
			fx := newFixture(t, db)
			id := tc.id(fx)
			read := func() (created, updated time.Time) {
				t.Helper()
				err := db.NewRaw("SELECT created_at, updated_at FROM ? WHERE id = ?", bun.Ident(tc.table), id).Scan(ctx, &created, &updated)
				if err != nil {
					t.Fatal(err)
				}
				return created, updated
			}
			created0, updated0 := read()
			time.Sleep(20 * time.Millisecond) // now() is the transaction's start time
			seen := tc.update(t, db, fx)
			created1, updated1 := read()
			if !updated1.After(updated0) {
				t.Errorf("updated_at = %v, want after %v", updated1, updated0)
			}
			if !created1.Equal(created0) {
				t.Errorf("created_at moved from %v to %v", created0, created1)
			}
			if !seen.IsZero() && !seen.After(updated0) {
				t.Errorf("caller sees updated_at %v, want after %v", seen, updated0)
			}
		})
	}
}

// compatible lists the information_schema.columns data_types a Go type may be stored in.
func compatible(f *schema.Field) []string {
	typ := f.IndirectType
	switch {
	case typ == reflect.TypeFor[time.Time]():
		return []string{"timestamp with time zone"}
	case typ.Kind() == reflect.String:
		if f.UserSQLType == "uuid" {
			return []string{"uuid"}
		}
		return []string{"uuid", "character varying", "text", "USER-DEFINED"}
	case typ.Kind() == reflect.Slice && typ.Elem().Kind() == reflect.Uint8:
		return []string{"bytea"}
	case typ.Kind() == reflect.Slice:
		return []string{"jsonb", "ARRAY"}
	case typ.Kind() == reflect.Struct, typ.Kind() == reflect.Map:
		return []string{"jsonb"}
	case typ.Kind() == reflect.Bool:
		return []string{"boolean"}
	case typ.Kind() >= reflect.Int && typ.Kind() <= reflect.Int64:
		return []string{"smallint", "integer", "bigint"}
	case typ.Kind() == reflect.Float32 || typ.Kind() == reflect.Float64:
		return []string{"numeric", "double precision", "real"}
	}
	return nil
}

func nilable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		return true
	}
	return false
}

type column struct {
	name, dataType, udtName string
	nullable                bool
}

// mismatches lists every way in which the models of models.All() and the
// tables of the public schema of db disagree.
func mismatches(t *testing.T, db *bun.DB) []string {
	t.Helper()
	ctx := context.Background()
	var problems []string
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	columns := map[string]map[string]column{}
	rows, err := db.QueryContext(ctx, `
SELECT c.table_name, c.column_name, c.data_type, c.udt_name, c.is_nullable = 'YES'
FROM information_schema.columns c
JOIN information_schema.tables t USING (table_schema, table_name)
WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
  AND c.table_name NOT LIKE 'river\_%'`) // River's job queue owns its tables
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var table string
		var c column
		if err := rows.Scan(&table, &c.name, &c.dataType, &c.udtName, &c.nullable); err != nil {
			t.Fatal(err)
		}
		if columns[table] == nil {
			columns[table] = map[string]column{}
		}
		columns[table][c.name] = c
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(columns) == 0 {
		t.Fatal("no tables in the public schema")
	}

	var enums []struct {
		Name   string   `bun:"name"`
		Labels []string `bun:"labels,array"`
	}
	if err := db.NewRaw(`SELECT t.typname AS name, array_agg(e.enumlabel::text ORDER BY e.enumsortorder) AS labels
FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = 'public' GROUP BY t.typname`).Scan(ctx, &enums); err != nil {
		t.Fatal(err)
	}
	enumLabels := map[string][]string{}
	for _, e := range enums {
		enumLabels[e.Name] = e.Labels
	}
	if len(enumLabels) == 0 {
		t.Fatal("no enums in the public schema")
	}

	modelTables := map[string]bool{}
	for _, m := range models.All() {
		table := db.Table(reflect.TypeOf(m).Elem())
		if modelTables[table.Name] {
			report("two models for table %s", table.Name)
		}
		modelTables[table.Name] = true
		cols, ok := columns[table.Name]
		if !ok {
			report("table %s of model %s does not exist", table.Name, table.TypeName)
			continue
		}
		seen := map[string]bool{}
		for _, f := range table.Fields {
			seen[f.Name] = true
			c, ok := cols[f.Name]
			if !ok {
				report("%s.%s (%s.%s) has no column", table.Name, f.Name, table.TypeName, f.GoName)
				continue
			}
			if want := compatible(f); !slices.Contains(want, c.dataType) {
				report("%s.%s: Go %s stored as %s, want one of %v", table.Name, f.Name, f.StructField.Type, c.dataType, want)
			}
			switch c.dataType {
			case "USER-DEFINED":
				if f.UserSQLType != c.udtName {
					report("%s.%s: bun type %q, column type %q", table.Name, f.Name, f.UserSQLType, c.udtName)
				}
				if labels, ok := enumLabels[c.udtName]; !ok {
					report("%s.%s: %s is not an enum", table.Name, f.Name, c.udtName)
				} else if got := models.EnumValues(f.IndirectType.Name()); !slices.Equal(got, labels) {
					report("%s.%s: models.EnumValues(%q) = %v, enum %s = %v", table.Name, f.Name, f.IndirectType.Name(), got, c.udtName, labels)
				}
			case "uuid", "jsonb":
				if f.UserSQLType != c.dataType {
					report("%s.%s is %s but its bun tag lacks type:%s", table.Name, f.Name, c.dataType, c.dataType)
				}
			}
			if c.nullable && !nilable(f.StructField.Type) {
				report("%s.%s is nullable but Go type %s cannot hold NULL", table.Name, f.Name, f.StructField.Type)
			}
			if c.nullable && f.NotNull {
				report("%s.%s is nullable but tagged notnull", table.Name, f.Name)
			}
			if !c.nullable && !f.NotNull && !f.IsPK {
				report("%s.%s is NOT NULL but not tagged notnull", table.Name, f.Name)
			}
			if !c.nullable && f.StructField.Type.Kind() == reflect.Pointer {
				report("%s.%s is NOT NULL but Go type %s is a pointer", table.Name, f.Name, f.StructField.Type)
			}
		}
		for name := range cols {
			if !seen[name] {
				report("column %s.%s has no field in %s", table.Name, name, table.TypeName)
			}
		}
	}
	for name := range columns {
		if !modelTables[name] {
			report("table %s has no model in models.All()", name)
		}
	}
	sort.Strings(problems)
	return problems
}

func TestModelsMatchDatabase(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		alter string // run on the migrated database first; "" for none
		want  string // substring of the one expected problem; "" for none
	}{
		{"migrated database", "", ""},
		{"extra column", "ALTER TABLE users ADD COLUMN extra text", "column users.extra has no field in User"},
		{"missing column", "ALTER TABLE tickets DROP COLUMN status_reason", "tickets.status_reason (Ticket.StatusReason) has no column"},
		{"nullable column for a string", "ALTER TABLE users ALTER COLUMN email DROP NOT NULL", "users.email is nullable but Go type string cannot hold NULL"},
		{"NOT NULL column for a pointer", "UPDATE users SET name = ''; ALTER TABLE users ALTER COLUMN name SET NOT NULL", "users.name is NOT NULL but not tagged notnull"},
		{"incompatible type", "ALTER TABLE sessions ALTER COLUMN message_count TYPE text", "sessions.message_count: Go int stored as text"},
		{"enum label", "ALTER TYPE urgency ADD VALUE 'whenever'", `models.EnumValues("Urgency")`},
		{"table without a model", "CREATE TABLE stray (id int)", "table stray has no model"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := dbtest.New(t)
			if tc.alter != "" {
				if _, err := db.ExecContext(context.Background(), tc.alter); err != nil {
					t.Fatal(err)
				}
			}
			problems := mismatches(t, db)
			switch {
			case tc.want == "" && len(problems) > 0:
				t.Errorf("models and database disagree:\n%s", strings.Join(problems, "\n"))
			case tc.want != "" && (len(problems) == 0 || !strings.Contains(strings.Join(problems, "\n"), tc.want)):
				t.Errorf("problems = %q, want one containing %q", problems, tc.want)
			}
		})
	}
}
