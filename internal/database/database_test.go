package database_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/savvysolve/api/internal/database"
	"github.com/savvysolve/api/internal/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// Open returns as soon as one connection answers; the rest of DB_MIN_CONNS
// (at most DB_MAX_CONNS) follow in the background, and stay in the pool.
func TestOpenWarmsMinConns(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name               string
		minConns, maxConns int
		want               int
	}{
		{"OK", 4, 10, 4},
		{"MaxBelowMin", 5, 2, 2},
		{"One", 1, 10, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url := dbtest.NewURL(t, true)
			db, err := database.Open(context.Background(), url, database.Options{MaxConns: tc.maxConns, MinConns: tc.minConns})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			deadline := time.Now().Add(5 * time.Second)
			for s := db.DB.Stats(); s.Idle != tc.want || s.OpenConnections != tc.want; s = db.DB.Stats() {
				if time.Now().After(deadline) {
					t.Fatalf("pool never held %d idle connections: %+v", tc.want, s)
				}
				time.Sleep(5 * time.Millisecond)
			}
			var one int
			if err := db.NewSelect().ColumnExpr("1").Scan(context.Background(), &one); err != nil || one != 1 {
				t.Fatalf("SELECT 1: %d, %v", one, err)
			}
		})
	}
}

// A database that does not answer fails Open, with an error that names the
// step and keeps the password out.
func TestOpenUnreachable(t *testing.T) {
	t.Parallel()
	_, err := database.Open(context.Background(), "postgres://app:s3cret@127.0.0.1:1/app?connect_timeout=2", database.Options{MinConns: 5})
	if err == nil {
		t.Fatal("Open succeeded on a closed port")
	}
	if !strings.HasPrefix(err.Error(), "database: connect:") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("error %q: want a \"database: connect:\" error without the password", err)
	}
}
