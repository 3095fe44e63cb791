// Package dbtest gives every test its own real PostgreSQL database: one
// throwaway cluster per test package (on /dev/shm when it exists), migrated once
// into a template with the real migration code, cloned per test in ~10 ms.
//
//	func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }
//	func TestX(t *testing.T) { db := dbtest.New(t); ... }
//
// TEST_DATABASE_URL points the harness at an existing server instead (it
// creates and drops its own databases there). Without PostgreSQL binaries the
// tests skip, unless CI=true, where they fail.
package dbtest

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/savvysolve/api/internal/database"
	"github.com/savvysolve/api/internal/embeddedpg"
	"github.com/savvysolve/api/internal/migrate"
	"github.com/savvysolve/api/migrations"
)

var (
	serverURL string // URL of the maintenance database ("postgres") of the server
	admin     *sql.DB
	template  string
	skipWhy   string
	cloneMu   sync.Mutex // CREATE DATABASE ... TEMPLATE refuses concurrent use of the template
	counter   atomic.Int64
)

// Main sets the harness up, runs the package's tests and tears it down. Call it
// from TestMain and pass its result to os.Exit.
func Main(m *testing.M) int {
	stop, err := setup()
	if err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "dbtest:", err)
			return 1
		}
		skipWhy = err.Error()
	}
	code := m.Run()
	if stop != nil {
		stop()
	}
	return code
}

func setup() (func(), error) {
	ctx := context.Background()
	var cluster *embeddedpg.Cluster
	var tmp string
	serverURL = os.Getenv("TEST_DATABASE_URL")
	if serverURL == "" {
		base := os.TempDir()
		if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
			base = "/dev/shm"
		}
		var err error
		if tmp, err = os.MkdirTemp(base, "savvysolve-test-"); err != nil {
			return nil, err
		}
		cluster, err = embeddedpg.Start(ctx, embeddedpg.Config{DataDir: filepath.Join(tmp, "pg"), Ephemeral: true})
		if err != nil {
			os.RemoveAll(tmp)
			return nil, err
		}
		serverURL = cluster.URL("postgres")
	}
	stop := func() {
		if admin != nil {
			if template != "" {
				admin.Exec(`DROP DATABASE IF EXISTS ` + template + ` WITH (FORCE)`)
			}
			admin.Close()
		}
		if cluster != nil {
			cluster.Stop()
			os.RemoveAll(tmp)
		}
	}
	var err error
	if admin, err = database.OpenSQL(serverURL, database.Options{MaxConns: 4}); err != nil {
		stop()
		return nil, err
	}
	if err := makeTemplate(ctx); err != nil {
		stop()
		return nil, fmt.Errorf("dbtest: migrate template: %w", err)
	}
	return stop, nil
}

func makeTemplate(ctx context.Context) error {
	template = fmt.Sprintf("savvysolve_tpl_%d", os.Getpid())
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+template); err != nil {
		return err
	}
	db, err := database.OpenSQL(URLFor(template), database.Options{MaxConns: 2})
	if err != nil {
		return err
	}
	defer db.Close()
	dir, err := migrations.Dir()
	if err != nil {
		return err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err = migrate.Apply(ctx, db, dir, quiet); err != nil {
		return err
	}
	// The job queue's tables, as `migrate` installs them.
	_, err = migrate.ApplyRiver(ctx, db, quiet)
	return err
}

// URLFor returns the URL of database name on the harness's server.
func URLFor(name string) string {
	u, err := url.Parse(serverURL)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}

// NewURL creates a database for t, a copy of the migrated template (or an
// empty one when empty is true), dropped when t ends, and returns its URL.
func NewURL(t testing.TB, empty bool) string {
	t.Helper()
	if skipWhy != "" {
		t.Skip("no PostgreSQL for tests: " + skipWhy)
	}
	name := fmt.Sprintf("t_%d_%d", os.Getpid(), counter.Add(1))
	stmt := `CREATE DATABASE ` + name + ` TEMPLATE ` + template
	if empty {
		stmt = `CREATE DATABASE ` + name
	}
	cloneMu.Lock()
	_, err := admin.Exec(stmt)
	cloneMu.Unlock()
	if err != nil {
		t.Fatalf("dbtest: create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("dbtest: drop database: %v", err)
		}
	})
	return URLFor(name)
}

// New returns a Bun handle on a fresh migrated database for t.
func New(t testing.TB) *bun.DB {
	t.Helper()
	db, err := database.Open(context.Background(), NewURL(t, false), database.Options{MaxConns: 20})
	if err != nil {
		t.Fatalf("dbtest: open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
