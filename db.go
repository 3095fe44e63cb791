package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	atlasmigrate "ariga.io/atlas/sql/migrate"

	"github.com/savvysolve/api/internal/config"
	"github.com/savvysolve/api/internal/database"
	"github.com/savvysolve/api/internal/embeddedpg"
	"github.com/savvysolve/api/internal/migrate"
	"github.com/savvysolve/api/migrations"
)

// The tools that author migrations work on the repository's files, not on the
// copies embedded in the binary.
const (
	schemaFile    = "schema.hcl"
	migrationsDir = "migrations"
)

func dbCmd(ctx context.Context, log *slog.Logger, cfg config.Config, args []string) error {
	if len(args) == 0 {
		return errors.New("usage: db diff NAME | db status | db check | db hash")
	}
	switch args[0] {
	case "diff":
		if len(args) != 2 {
			return errors.New("usage: db diff NAME (for example: db diff add_ticket_customer)")
		}
		return dbDiff(ctx, log, cfg, args[1])
	case "status":
		return dbStatus(ctx, log, cfg)
	case "check":
		return dbCheck(ctx, log, cfg)
	case "hash":
		dir, err := atlasmigrate.NewLocalDir(migrationsDir)
		if err != nil {
			return err
		}
		return migrate.Rehash(dir)
	}
	return fmt.Errorf("unknown db command %q", args[0])
}

// withDev runs f with a clean dev database: DEV_DATABASE_URL when set, else a
// throwaway embedded cluster.
func withDev(ctx context.Context, log *slog.Logger, cfg config.Config, f func(*migrate.Dev) error) error {
	url := cfg.DevDatabaseURL
	if url == "" {
		tmp, err := os.MkdirTemp("", "savvysolve-dev-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		cluster, err := embeddedpg.Start(ctx, embeddedpg.Config{DataDir: filepath.Join(tmp, "pg"), Ephemeral: true, Logger: log})
		if err != nil {
			return fmt.Errorf("start a dev database (or set DEV_DATABASE_URL): %w", err)
		}
		defer cluster.Stop()
		url = cluster.URL("postgres")
	}
	dev, err := migrate.OpenDev(ctx, url)
	if err != nil {
		return err
	}
	defer dev.Close()
	return f(dev)
}

func dbDiff(ctx context.Context, log *slog.Logger, cfg config.Config, name string) error {
	hcl, err := os.ReadFile(schemaFile)
	if err != nil {
		return err
	}
	dir, err := atlasmigrate.NewLocalDir(migrationsDir)
	if err != nil {
		return err
	}
	return withDev(ctx, log, cfg, func(dev *migrate.Dev) error {
		file, err := dev.Diff(ctx, dir, hcl, name)
		if err != nil {
			return err
		}
		if file == "" {
			fmt.Println("schema.hcl and migrations/ agree: nothing to write")
			return nil
		}
		fmt.Printf("wrote migrations/%s: review its header (Purpose, Reversible, Rollback) before committing\n", file)
		return nil
	})
}

func dbCheck(ctx context.Context, log *slog.Logger, cfg config.Config) error {
	hcl, err := os.ReadFile(schemaFile)
	if err != nil {
		return err
	}
	dir, err := atlasmigrate.NewLocalDir(migrationsDir)
	if err != nil {
		return err
	}
	var live *sql.DB
	if !cfg.Embedded {
		if live, err = database.OpenSQL(cfg.DatabaseURLUnpooled, database.Options{MaxConns: 2}); err != nil {
			return err
		}
		defer live.Close()
	}
	return withDev(ctx, log, cfg, func(dev *migrate.Dev) error {
		problems, err := dev.Check(ctx, dir, hcl, live)
		if err != nil {
			return err
		}
		if len(problems) > 0 {
			return errors.New("db check failed:\n- " + strings.Join(problems, "\n- "))
		}
		fmt.Println("db check: ok")
		return nil
	})
}

func dbStatus(ctx context.Context, log *slog.Logger, cfg config.Config) error {
	return withDatabase(ctx, log, cfg, func(db *sql.DB) error {
		dir, err := migrations.Dir()
		if err != nil {
			return err
		}
		applied, pending, err := migrate.Status(ctx, db, dir)
		if err != nil {
			return err
		}
		for _, r := range applied {
			fmt.Printf("applied  %s  %-40s %s\n", r.Version, r.Description, r.ExecutedAt.Format("2006-01-02 15:04:05"))
		}
		for _, f := range pending {
			fmt.Printf("pending  %s  %s\n", f.Version(), f.Desc())
		}
		fmt.Printf("%d applied, %d pending\n", len(applied), len(pending))
		return nil
	})
}

func migrateCmd(ctx context.Context, log *slog.Logger, cfg config.Config) error {
	return withDatabase(ctx, log, cfg, func(db *sql.DB) error {
		n, err := applyMigrations(ctx, log, db)
		if err == nil {
			fmt.Printf("%d migrations applied\n", n)
		}
		return err
	})
}

// applyMigrations applies the pending Atlas migrations, then River's (the job
// queue's tables, which River's own migrator owns), and returns how many Atlas
// files it applied.
func applyMigrations(ctx context.Context, log *slog.Logger, db *sql.DB) (int, error) {
	dir, err := migrations.Dir()
	if err != nil {
		return 0, err
	}
	n, err := migrate.Apply(ctx, db, dir, log)
	if err != nil {
		return n, err
	}
	versions, err := migrate.ApplyRiver(ctx, db, log)
	if err != nil {
		return n, err
	}
	if len(versions) > 0 {
		log.Info("river migrations applied", "versions", versions)
	}
	return n, nil
}

// withDatabase runs f on a direct connection to the configured database, or to
// the embedded cluster when none is configured.
func withDatabase(ctx context.Context, log *slog.Logger, cfg config.Config, f func(*sql.DB) error) error {
	url := cfg.DatabaseURLUnpooled
	if cfg.Embedded {
		cluster, err := startEmbedded(ctx, log, cfg)
		if err != nil {
			return err
		}
		defer cluster.Stop()
		url = cluster.URL(embeddedDB)
	}
	db, err := database.OpenSQL(url, database.Options{MaxConns: 4, ConnectTimeout: cfg.Pool.ConnectTimeout})
	if err != nil {
		return err
	}
	defer db.Close()
	return f(db)
}
