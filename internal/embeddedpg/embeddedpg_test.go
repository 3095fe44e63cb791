package embeddedpg_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/savvysolve/api/internal/embeddedpg"
)

// requireBinaries skips the test when no PostgreSQL server binaries are
// installed, except in CI (CI=true), where their absence is a failure.
func requireBinaries(t *testing.T) {
	t.Helper()
	if _, err := embeddedpg.FindBinDir(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

// baseDir returns a new directory on tmpfs (/dev/shm) when there is one,
// else under os.TempDir, removed when the test ends.
func baseDir(t *testing.T) string {
	t.Helper()
	root := os.TempDir()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		root = "/dev/shm"
	}
	dir, err := os.MkdirTemp(root, "embeddedpg-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func start(t *testing.T, dataDir string) *embeddedpg.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	c, err := embeddedpg.Start(ctx, embeddedpg.Config{
		DataDir:   dataDir,
		Ephemeral: true,
		Logger:    slog.New(slog.NewTextHandler(t.Output(), nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Stop() })
	return c
}

func connect(t *testing.T, c *embeddedpg.Cluster) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), c.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestStartStopRestart(t *testing.T) {
	t.Parallel()
	requireBinaries(t)
	ctx := t.Context()
	dataDir := filepath.Join(baseDir(t), "pg")

	c := start(t, dataDir)
	if c.Port() <= 0 || !strings.Contains(c.URL("postgres"), ":"+strconv.Itoa(c.Port())+"/postgres") {
		t.Fatalf("Port() = %d, URL = %s", c.Port(), c.URL("postgres"))
	}
	conn := connect(t, c)
	var one int
	if err := conn.QueryRow(ctx, "select 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("select 1: %d, %v", one, err)
	}
	if _, err := conn.Exec(ctx, "create table kept (id int); insert into kept values (42)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)

	// A second server on the same data directory is refused.
	if c2, err := embeddedpg.Start(ctx, embeddedpg.Config{DataDir: dataDir, Ephemeral: true}); err == nil {
		c2.Stop()
		t.Fatal("second Start on a data directory in use succeeded")
	} else if !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second Start: %v", err)
	}

	before, err := os.Stat(filepath.Join(dataDir, "PG_VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("postmaster.pid after Stop: %v", err)
	}

	t0 := time.Now()
	c = start(t, dataDir)
	t.Logf("restart took %s", time.Since(t0))
	after, err := os.Stat(filepath.Join(dataDir, "PG_VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	if !after.ModTime().Equal(before.ModTime()) {
		t.Fatalf("PG_VERSION rewritten on restart (initdb ran again): %s -> %s", before.ModTime(), after.ModTime())
	}
	var id int
	if err := connect(t, c).QueryRow(ctx, "select id from kept").Scan(&id); err != nil || id != 42 {
		t.Fatalf("data after restart: %d, %v", id, err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
}

func TestLongDataDirPath(t *testing.T) {
	t.Parallel()
	requireBinaries(t)
	// Too long for a unix socket path inside the data directory.
	dataDir := filepath.Join(baseDir(t), strings.Repeat("d", 60), strings.Repeat("e", 60), "pg")
	c := start(t, dataDir)
	var one int
	if err := connect(t, c).QueryRow(t.Context(), "select 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("select 1: %d, %v", one, err)
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
}

func TestVersionMismatchLeavesDataAlone(t *testing.T) {
	t.Parallel()
	requireBinaries(t)
	dataDir := filepath.Join(baseDir(t), "pg")
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		t.Fatal(err)
	}
	versionFile := filepath.Join(dataDir, "PG_VERSION")
	if err := os.WriteFile(versionFile, []byte("9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := embeddedpg.Start(t.Context(), embeddedpg.Config{DataDir: dataDir, Ephemeral: true})
	if err == nil {
		c.Stop()
		t.Fatal("Start succeeded on a data directory of another major version")
	}
	if !strings.Contains(err.Error(), "PostgreSQL 9 ") || !strings.Contains(err.Error(), "PG_VERSION") {
		t.Fatalf("error does not name the versions: %v", err)
	}
	b, err := os.ReadFile(versionFile)
	if err != nil || string(b) != "9\n" {
		t.Fatalf("PG_VERSION after refused Start: %q, %v", b, err)
	}
	entries, err := os.ReadDir(dataDir)
	if err != nil || len(entries) != 1 {
		t.Fatalf("data directory changed: %v, %v", entries, err)
	}
}

// TestFindBinDirBadEnv is not parallel: t.Setenv forbids it.
func TestFindBinDirBadEnv(t *testing.T) {
	t.Setenv("PG_BINDIR", t.TempDir())
	if _, err := embeddedpg.FindBinDir(); !errors.Is(err, embeddedpg.ErrNoBinaries) {
		t.Fatalf("FindBinDir with an empty PG_BINDIR: %v", err)
	}
	_, err := embeddedpg.Start(t.Context(), embeddedpg.Config{DataDir: filepath.Join(t.TempDir(), "pg")})
	if !errors.Is(err, embeddedpg.ErrNoBinaries) || !strings.Contains(err.Error(), "apt-get install") {
		t.Fatalf("Start without binaries: %v", err)
	}
}
