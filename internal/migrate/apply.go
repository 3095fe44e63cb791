// Package migrate drives Atlas through its Go library: it applies the versioned
// migrations of migrations/ (the server has no Atlas CLI to call), plans the next
// migration from schema.hcl, and checks that files, schema.hcl and a live
// database agree.
package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"ariga.io/atlas/sql/migrate"
	"ariga.io/atlas/sql/postgres"
)

// lockName is the advisory lock the Atlas CLI's `migrate apply` takes, so the
// server and the CLI never apply at the same time either.
const lockName = "atlas_migrate_execute"

// LockTimeout bounds the wait for another replica's migration run.
var LockTimeout = 2 * time.Minute

// Apply applies the pending files of dir to db, one transaction per file, under
// the CLI's advisory lock, and returns how many it applied. db must be a direct
// connection (not a transaction pooler) and not the application's pool: Atlas
// changes session settings on the connection it inspects with.
func Apply(ctx context.Context, db *sql.DB, dir migrate.Dir, log *slog.Logger) (int, error) {
	if err := migrate.Validate(dir); err != nil {
		return 0, fmt.Errorf("migrate: the migration directory does not match atlas.sum (%w); an applied migration is never edited: undo the edit and add a new migration", err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: connect: %w", err)
	}
	defer conn.Close()
	drv, err := postgres.Open(conn)
	if err != nil {
		return 0, fmt.Errorf("migrate: open driver: %w", err)
	}
	unlock, err := drv.Lock(ctx, lockName, LockTimeout)
	if err != nil {
		return 0, fmt.Errorf("migrate: take lock: %w", err)
	}
	defer unlock()
	rrw := &revisions{db: conn}
	if err := rrw.init(ctx); err != nil {
		return 0, fmt.Errorf("migrate: create revision table: %w", err)
	}
	ex, err := migrate.NewExecutor(drv, dir, rrw)
	if err != nil {
		return 0, err
	}
	pending, err := ex.Pending(ctx)
	if errors.Is(err, migrate.ErrNoPendingFiles) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	for i, f := range pending {
		start := time.Now()
		if err := applyFile(ctx, conn, dir, f); err != nil {
			return i, err
		}
		log.Info("migration applied", "version", f.Version(), "file", f.Name(), "duration", time.Since(start))
	}
	return len(pending), nil
}

// applyFile runs one file in its own transaction (the executor opens none), so a
// failing file leaves neither its statements nor its revision behind. A file
// marked `-- atlas:txmode none` runs outside a transaction, as with the CLI.
func applyFile(ctx context.Context, conn *sql.Conn, dir migrate.Dir, f migrate.File) error {
	if lf, ok := f.(*migrate.LocalFile); ok {
		if mode := lf.Directive("txmode"); len(mode) > 0 && mode[0] == "none" {
			return execute(ctx, conn, dir, f)
		}
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migrate: begin: %w", err)
	}
	defer tx.Rollback()
	if err := execute(ctx, tx, dir, f); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migrate: commit %s: %w", f.Name(), err)
	}
	return nil
}

type execQuerier interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

func execute(ctx context.Context, db execQuerier, dir migrate.Dir, f migrate.File) error {
	drv, err := postgres.Open(db)
	if err != nil {
		return fmt.Errorf("migrate: open driver: %w", err)
	}
	ex, err := migrate.NewExecutor(drv, dir, &revisions{db: db})
	if err != nil {
		return err
	}
	if err := ex.Execute(ctx, f); err != nil {
		return fmt.Errorf("migrate: %s: %w", f.Name(), err)
	}
	return nil
}

// Status lists the applied revisions and the pending files.
func Status(ctx context.Context, db *sql.DB, dir migrate.Dir) (applied []*migrate.Revision, pending []migrate.File, err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	drv, err := postgres.Open(conn)
	if err != nil {
		return nil, nil, err
	}
	rrw := &revisions{db: conn}
	if applied, err = rrw.ReadRevisions(ctx); err != nil {
		return nil, nil, err
	}
	ex, err := migrate.NewExecutor(drv, dir, rrw)
	if err != nil {
		return nil, nil, err
	}
	pending, err = ex.Pending(ctx)
	if errors.Is(err, migrate.ErrNoPendingFiles) {
		err = nil
	}
	return applied, pending, err
}

// PendingCount counts the files of dir not yet applied to db, cheaply enough
// for a readiness probe: it compares versions without inspecting the schema.
func PendingCount(ctx context.Context, db *sql.DB, dir migrate.Dir) (int, error) {
	files, err := dir.Files()
	if err != nil {
		return 0, err
	}
	applied, err := (&revisions{db: db}).appliedVersions(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, f := range files {
		if !applied[f.Version()] {
			n++
		}
	}
	return n, nil
}

func (r *revisions) appliedVersions(ctx context.Context) (map[string]bool, error) {
	if ok, err := r.exists(ctx); err != nil || !ok {
		return nil, err
	}
	rows, err := r.db.QueryContext(ctx, `SELECT version FROM `+revisionTable+` WHERE applied = total AND coalesce(error, '') = ''`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	done := map[string]bool{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		done[v] = true
	}
	return done, rows.Err()
}
