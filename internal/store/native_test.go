package store_test

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/uptrace/bun"

	"github.com/savvysolve/api/internal/dbtest"
	"github.com/savvysolve/api/internal/seed"
	"github.com/savvysolve/api/internal/store"
	"github.com/savvysolve/api/models"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// seeded is a database of its own with the seed data.
func seeded(t *testing.T) *bun.DB {
	t.Helper()
	db := dbtest.New(t)
	if err := seed.Run(context.Background(), db); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestMessagePagesMatchBun: the native reads of messages (pages, on the pool
// and in a transaction, and replays) return the rows Bun's models read,
// author included: every column of the user, so a column added to users
// but not to optionalUserColumns fails here.
func TestMessagePagesMatchBun(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := seeded(t)
	// A system message: no author, so the joined user's columns are NULL.
	system := &models.SessionMessage{SessionID: seed.SessionCompleted, Sender: models.SenderSystem, Body: "The session ended."}
	if err := store.InsertMessage(ctx, db, system); err != nil {
		t.Fatal(err)
	}
	var want []*models.SessionMessage
	err := db.NewSelect().Model(&want).Relation("Author").
		Where("m.session_id = ?", seed.SessionCompleted).OrderExpr("m.seq").Scan(ctx)
	if err != nil || len(want) != 4 {
		t.Fatalf("Bun read %d messages, %v", len(want), err)
	}
	keys := []store.MessagePage{{SessionID: seed.SessionCompleted, N: 10}}
	pool, err := store.MessagePages(ctx, db, keys)
	if err != nil {
		t.Fatal(err)
	}
	var inTx []*models.SessionMessage
	err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		inTx, err = store.MessagePages(ctx, tx, keys)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	after, err := store.MessagesAfter(ctx, db, seed.SessionCompleted, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][]*models.SessionMessage{"pool": pool, "transaction": inTx, "MessagesAfter": after} {
		if len(got) != len(want) {
			t.Fatalf("%s: %d messages, want %d", name, len(got), len(want))
		}
		for i := range want {
			if g, w := flat(got[i]), flat(want[i]); !reflect.DeepEqual(g, w) {
				t.Errorf("%s: message %d\n got %+v\nwant %+v", name, i, g, w)
			}
		}
	}
	if pool[0].Author != pool[2].Author {
		t.Error("one author's messages do not share the author's row")
	}
}

// flatMessage is a message with its author, times in UTC, for comparing.
type flatMessage struct {
	M models.SessionMessage
	A *models.User
}

func flat(m *models.SessionMessage) flatMessage {
	f := flatMessage{M: *m}
	f.M.CreatedAt = m.CreatedAt.UTC()
	f.M.Author = nil
	if m.Author != nil {
		a := *m.Author
		a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
		if a.DeletedAt != nil {
			d := a.DeletedAt.UTC()
			a.DeletedAt = &d
		}
		f.A = &a
	}
	return f
}

// TestSelectIntoMatchesBun: every batch read on pgx's rows returns the rows
// Bun's models read, field for field.
func TestSelectIntoMatchesBun(t *testing.T) {
	t.Parallel()
	db := seeded(t)
	check(t, db, "id", store.TicketsByIDs)
	check(t, db, "ticket_id", store.SessionsByTicketIDs)
	check(t, db, "id", store.SessionsByIDs)
	check(t, db, "id", store.UsersByIDs)
	check(t, db, "id", store.SolversByIDs)
	check(t, db, "user_id", store.SolversByUserIDs)
	check(t, db, "session_id", store.RatingsBySessionIDs)
	check(t, db, "id", store.MessagesByIDs)
}

// check reads every row of M's table with Bun, then with read by the values
// of column, and compares.
func check[M any](t *testing.T, db *bun.DB, column string, read func(context.Context, store.DB, []string) ([]*M, error)) {
	t.Helper()
	ctx := context.Background()
	var want []*M
	if err := db.NewSelect().Model(&want).Scan(ctx); err != nil || len(want) == 0 {
		t.Fatalf("%T: Bun read %d rows, %v", want, len(want), err)
	}
	var keys []string
	if err := db.NewSelect().Model((*M)(nil)).Column(column).Scan(ctx, &keys); err != nil {
		t.Fatal(err)
	}
	got, err := read(ctx, db, keys)
	if err != nil {
		t.Fatal(err)
	}
	sameTime := cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })
	ignoreRelations := cmpopts.IgnoreFields(models.SessionMessage{}, "Author") // compared in TestMessagePagesMatchBun
	sortByID := cmpopts.SortSlices(func(a, b *M) bool { return fmt.Sprint(*a) < fmt.Sprint(*b) })
	if d := cmp.Diff(want, got, sameTime, ignoreRelations, sortByID); d != "" {
		t.Errorf("%T: native rows differ from Bun's (-Bun +native):\n%s", want, d)
	}
}

// TestScannedStringsStayPut: strings read natively share blocks (a value
// longer than a block gets its own); every one keeps its bytes after later
// reads, and matches what database/sql reads in a transaction.
func TestScannedStringsStayPut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := seeded(t)
	bodies := []string{strings.Repeat("é", 4000), "short", strings.Repeat("✓", 4000), strings.Repeat("x", 4000), "\"quoted\" \\ and\nlines"}
	for _, b := range bodies {
		m := &models.SessionMessage{SessionID: seed.SessionCompleted, Sender: models.SenderSystem, Body: b}
		if err := store.InsertMessage(ctx, db, m); err != nil {
			t.Fatal(err)
		}
	}
	keys := []store.MessagePage{{SessionID: seed.SessionCompleted, N: 100}}
	first, err := store.MessagePages(ctx, db, keys)
	if err != nil {
		t.Fatal(err)
	}
	snapshot := make([]string, len(first))
	for i, m := range first {
		snapshot[i] = strings.Clone(m.Body) + "|" + m.ID + "|" + m.SessionID
	}
	for range 3 { // later reads must not write over the first one's strings
		if _, err := store.MessagePages(ctx, db, keys); err != nil {
			t.Fatal(err)
		}
	}
	var inTx []*models.SessionMessage
	err = db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		inTx, err = store.MessagePages(ctx, tx, keys)
		return err
	})
	if err != nil || len(inTx) != len(first) {
		t.Fatalf("transaction read %d messages, pool %d: %v", len(inTx), len(first), err)
	}
	for i, m := range first {
		if got := m.Body + "|" + m.ID + "|" + m.SessionID; got != snapshot[i] {
			t.Errorf("message %d changed after later reads", i)
		}
		if !reflect.DeepEqual(flat(m), flat(inTx[i])) {
			t.Errorf("message %d: pool %.40q…, transaction %.40q…", i, m.Body, inTx[i].Body)
		}
	}
	if got := first[len(first)-len(bodies):]; got[0].Body != bodies[0] || got[2].Body != bodies[2] || got[4].Body != bodies[4] {
		t.Error("the long bodies did not come back whole")
	}
}
