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
// follow in the background, and stay in the pool.
func TestOpenWarmsMinConns(t *testing.T) {
	t.Parallel()
	url := dbtest.NewURL(t, true)
	const minConns = 4
	db, err := database.Open(context.Background(), url, database.Options{MaxConns: 10, MinConns: minConns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := db.DB.Stats()
		if s.Idle == minConns && s.OpenConnections == minConns {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pool never held %d idle connections: %+v", minConns, s)
		}
		time.Sleep(5 * time.Millisecond)
	}
	var one int
	if err := db.NewSelect().ColumnExpr("1").Scan(context.Background(), &one); err != nil || one != 1 {
		t.Fatalf("SELECT 1: %d, %v", one, err)
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
