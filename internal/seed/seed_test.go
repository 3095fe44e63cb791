package seed_test

import (
	"context"
	"fmt"
	"maps"
	"math"
	"os"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/savvysolve/api/internal/dbtest"
	"github.com/savvysolve/api/internal/seed"
	"github.com/savvysolve/api/models"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// tables returns the table of every model.
func tables(db *bun.DB) []string {
	var names []string
	for _, m := range models.All() {
		names = append(names, db.Table(reflect.TypeOf(m).Elem()).Name)
	}
	return names
}

// snapshot is, per table, its row count and a digest of every column of every
// row (created_at and updated_at included).
func snapshot(t *testing.T, db *bun.DB) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, table := range tables(db) {
		var n int
		var digest string
		err := db.NewRaw("SELECT count(*), coalesce(md5(string_agg(x::text, ',' ORDER BY x.id)), '') FROM ? AS x", bun.Ident(table)).
			Scan(context.Background(), &n, &digest)
		if err != nil {
			t.Fatalf("snapshot %s: %v", table, err)
		}
		out[table] = fmt.Sprintf("%d rows, md5 %s", n, digest)
	}
	return out
}

func counts(t *testing.T, db *bun.DB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range tables(db) {
		var n int
		if err := db.NewRaw("SELECT count(*) FROM ?", bun.Ident(table)).Scan(context.Background(), &n); err != nil {
			t.Fatal(err)
		}
		out[table] = n
	}
	return out
}

func TestSeedTwiceChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.New(t)
	if err := seed.Run(ctx, db); err != nil {
		t.Fatal(err)
	}
	first := snapshot(t, db)
	// A second run a second later must not touch a row, not even a timestamp
	// (seed derives its times from time.Now()).
	time.Sleep(1100 * time.Millisecond)
	if err := seed.Run(ctx, db); err != nil {
		t.Fatalf("second run: %v", err)
	}
	second := snapshot(t, db)
	for _, table := range slices.Sorted(maps.Keys(first)) {
		if first[table] != second[table] {
			t.Errorf("%s: %s after the first run, %s after the second", table, first[table], second[table])
		}
	}
}

func TestSeedContents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.New(t)
	if err := seed.Run(ctx, db); err != nil {
		t.Fatal(err)
	}

	want := map[string]int{"users": 7, "solvers": 3, "tickets": 6, "sessions": 1, "session_messages": 3, "ratings": 1,
		"call_logs": 0, "sms_logs": 0, "screen_share_sessions": 1, "webhook_events": 0}
	got := counts(t, db)
	for table, n := range want {
		if got[table] != n {
			t.Errorf("%s has %d rows, want %d", table, got[table], n)
		}
	}
	if len(got) != len(want) {
		t.Errorf("tables = %v, want %v", slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)))
	}

	var statuses int
	if err := db.NewRaw("SELECT count(DISTINCT status) FROM tickets").Scan(ctx, &statuses); err != nil {
		t.Fatal(err)
	}
	if statuses < 4 {
		t.Errorf("tickets cover %d statuses, want 4 or more", statuses)
	}

	// The seeded users are the ones seed names, with their fixed ids.
	var users []models.User
	if err := db.NewSelect().Model(&users).Relation("Solver").OrderExpr("u.id").Scan(ctx); err != nil {
		t.Fatal(err)
	}
	ids := []string{seed.UserAdmin, seed.UserSolver1, seed.UserSolver2, seed.UserCustomer1, seed.UserCustomer2, seed.UserCustomer3, seed.UserSolver3}
	if len(users) != len(seed.ClerkIDs) {
		t.Fatalf("%d users, want %d", len(users), len(seed.ClerkIDs))
	}
	for i, u := range users {
		if u.ID != ids[i] || u.ClerkID != seed.ClerkIDs[i] || u.Email != seed.ClerkIDs[i]+"@savvysolve.test" {
			t.Errorf("user %d = %s %s %s, want %s %s", i, u.ID, u.ClerkID, u.Email, ids[i], seed.ClerkIDs[i])
		}
		if hasSolver := u.Solver != nil; hasSolver != (u.Role == models.RoleSolver) {
			t.Errorf("user %s (%s) has solver profile: %v", u.ClerkID, u.Role, hasSolver)
		}
	}

	// The messages are numbered 1..n and the session counts them.
	var s models.Session
	err := db.NewSelect().Model(&s).
		Relation("Messages", func(q *bun.SelectQuery) *bun.SelectQuery { return q.Order("m.seq") }).
		Relation("Rating").
		Where("ss.id = ?", seed.SessionCompleted).Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.MessageCount != len(s.Messages) {
		t.Errorf("message_count = %d, session has %d messages", s.MessageCount, len(s.Messages))
	}
	for i, m := range s.Messages {
		if m.Seq != i+1 {
			t.Errorf("message %d has seq %d", i, m.Seq)
		}
		if m.CreatedAt.Before(*s.StartedAt) || m.CreatedAt.After(*s.EndedAt) {
			t.Errorf("message %d at %v, outside the session %v..%v", m.Seq, m.CreatedAt, s.StartedAt, s.EndedAt)
		}
	}
	if s.Rating == nil || s.Rating.ID != seed.RatingCompleted || s.Rating.SolverID != s.SolverID {
		t.Errorf("rating = %+v", s.Rating)
	}
	if s.Pricing == nil || s.Pricing.TotalCents == nil || s.Earnings == nil || s.Duration == nil ||
		*s.Duration != int(s.EndedAt.Sub(*s.StartedAt)/time.Second) {
		t.Errorf("ended session lacks its totals: %+v", s)
	}

	// The ended session had a screen share, ended within it.
	var sc models.ScreenShareSession
	if err := db.NewSelect().Model(&sc).Where("sc.id = ?", seed.ScreenShareEnded).Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if sc.SessionID != seed.SessionCompleted || sc.Status != "ended" || sc.StartedAt == nil || sc.EndedAt == nil ||
		sc.StartedAt.Before(*s.StartedAt) || sc.EndedAt.After(*s.EndedAt) || !sc.StartedAt.Before(*sc.EndedAt) {
		t.Errorf("screen share = %+v, session %v..%v", sc, s.StartedAt, s.EndedAt)
	}

	// The released ticket is back in the queue, without a solver, with its reason.
	var rel models.Ticket
	if err := db.NewSelect().Model(&rel).Where("t.id = ?", seed.TicketReleased).Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if rel.Status != models.TicketPending || rel.SolverID != nil || rel.ClaimedAt != nil ||
		rel.StatusReason == nil || *rel.StatusReason != seed.ReleaseReason {
		t.Errorf("released ticket = %+v", rel)
	}

	// seed_solver_3 is a solver who went offline.
	var off models.Solver
	if err := db.NewSelect().Model(&off).Where("s.id = ?", seed.SolverInactive).Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if off.UserID != seed.UserSolver3 || off.Status != models.SolverInactive {
		t.Errorf("inactive solver = %+v", off)
	}
}

// TestSeedSolverStats checks that the denormalized stats of each seeded solver
// agree with its ratings and sessions.
func TestSeedSolverStats(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := dbtest.New(t)
	if err := seed.Run(ctx, db); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		solver        string
		avg           *float64
		ratings, done int
	}{
		{seed.SolverActive, ptr(5.0), 1, 1},
		{seed.SolverOnboarding, nil, 0, 0},
		{seed.SolverInactive, nil, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.solver, func(t *testing.T) {
			t.Parallel()
			var sv models.Solver
			if err := db.NewSelect().Model(&sv).Where("s.id = ?", tc.solver).Scan(ctx); err != nil {
				t.Fatal(err)
			}
			var fact struct {
				Avg      *float64 `bun:"avg"`
				Ratings  int      `bun:"ratings"`
				Done     int      `bun:"done"`
				Earnings int      `bun:"earnings"`
			}
			err := db.NewRaw(`SELECT
  (SELECT avg(rating)::float8 FROM ratings WHERE solver_id = ?0) AS avg,
  (SELECT count(*) FROM ratings WHERE solver_id = ?0) AS ratings,
  (SELECT count(*) FROM sessions WHERE solver_id = ?0 AND ended_at IS NOT NULL) AS done,
  (SELECT coalesce(sum(earnings), 0) FROM sessions WHERE solver_id = ?0) AS earnings`, tc.solver).Scan(ctx, &fact)
			if err != nil {
				t.Fatal(err)
			}
			st := sv.Stats
			if !sameFloat(st.AverageRating, tc.avg) || st.TotalRatings != tc.ratings || st.CompletedSessions != tc.done {
				t.Errorf("stats = %s, want averageRating %s, totalRatings %d, completedSessions %d",
					show(st), fmtPtr(tc.avg), tc.ratings, tc.done)
			}
			if !sameFloat(st.AverageRating, fact.Avg) || st.TotalRatings != fact.Ratings ||
				st.CompletedSessions != fact.Done || st.TotalEarningsCents != fact.Earnings {
				t.Errorf("stats = %s, but the rows say averageRating %s, totalRatings %d, completedSessions %d, totalEarningsCents %d",
					show(st), fmtPtr(fact.Avg), fact.Ratings, fact.Done, fact.Earnings)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func sameFloat(a, b *float64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return math.Abs(*a-*b) < 0.005
}

func fmtPtr(f *float64) string {
	if f == nil {
		return "null"
	}
	return fmt.Sprint(*f)
}

func show(s models.SolverStats) string {
	return fmt.Sprintf("{averageRating %s, totalRatings %d, completedSessions %d, totalEarningsCents %d}",
		fmtPtr(s.AverageRating), s.TotalRatings, s.CompletedSessions, s.TotalEarningsCents)
}
