package migrate

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"

	"ariga.io/atlas/sql/postgres"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

// riverTables matches the tables (and the enum river_job_state) that River's
// own migrator installs in the public schema. They are not declared in
// schema.hcl: River owns and upgrades them, so the drift checks leave them out
// (as atlas.hcl's exclude does for the CLI).
var riverTables = []string{"river_*"}

// ApplyRiver installs or upgrades the tables of the River job queue in db's
// database with River's own migrator (rivermigrate), and returns the River
// versions it applied. It runs under the same advisory lock as Apply, so
// replicas starting together migrate once. Call it after Apply wherever Apply
// runs; like Apply, db must be a direct connection.
func ApplyRiver(ctx context.Context, db *sql.DB, log *slog.Logger) ([]int, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate river: connect: %w", err)
	}
	defer conn.Close()
	drv, err := postgres.Open(conn)
	if err != nil {
		return nil, fmt.Errorf("migrate river: open driver: %w", err)
	}
	unlock, err := drv.Lock(ctx, lockName, LockTimeout)
	if err != nil {
		return nil, fmt.Errorf("migrate river: take lock: %w", err)
	}
	defer unlock()

	// River's migrator runs on pgx (each River version in its own transaction:
	// some cannot share one). Its pool connects with the settings of db's
	// own connections, so the caller needs no second URL.
	pool, err := poolLike(ctx, conn)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	m, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("migrate river: %w", err)
	}
	res, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return nil, fmt.Errorf("migrate river: %w", err)
	}
	versions := make([]int, len(res.Versions))
	for i, v := range res.Versions {
		versions[i] = v.Version
	}
	return versions, nil
}

// poolLike opens a small pgx pool whose connections use conn's settings.
func poolLike(ctx context.Context, conn *sql.Conn) (*pgxpool.Pool, error) {
	var cc *pgxpool.Config
	err := conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("migrate river: the database handle is not pgx's (%T)", dc)
		}
		var err error
		if cc, err = pgxpool.ParseConfig(""); err != nil {
			return err
		}
		cc.ConnConfig = c.Conn().Config()
		return nil
	})
	if err != nil {
		return nil, err
	}
	cc.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(ctx, cc)
	if err != nil {
		return nil, fmt.Errorf("migrate river: connect: %w", err)
	}
	return pool, nil
}
