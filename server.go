// Command savvysolve is the SavvySolve API server and its tools, in one binary:
//
//	serve              run the GraphQL server (default)
//	migrate            apply pending migrations
//	seed               fill an empty database with the seed data
//	db diff NAME       write the next migration from schema.hcl
//	db status          list applied and pending migrations
//	db check           fail when migrations, schema.hcl and the database disagree
//	db hash            rewrite migrations/atlas.sum after editing a new file by hand
//	token CLERK_ID     print a development bearer token for a user
//	schema             print the GraphQL schema (SDL) the server serves
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/savvysolve/api/internal/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 && os.Args[1] == "schema" { // needs no configuration
		if err := schemaCmd(os.Stdout, os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	// A configuration that does not load is reported too, by the logger of
	// whatever mode it asked for.
	cfg, err := config.Load()
	log := newLogger(cfg.Production())
	if err == nil {
		err = run(ctx, log, cfg, os.Args[1:])
	}
	if err != nil {
		log.Error(err.Error())
		stop()
		os.Exit(1)
	}
}

func newLogger(production bool) *slog.Logger {
	if production {
		return slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, nil))
}

const usage = `usage: savvysolve [serve | migrate | seed | db diff NAME | db status | db check | db hash | token CLERK_ID | schema]`

func run(ctx context.Context, log *slog.Logger, cfg config.Config, args []string) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, log, cfg)
	case "migrate":
		return migrateCmd(ctx, log, cfg)
	case "seed":
		return seedCmd(ctx, log, cfg)
	case "db":
		return dbCmd(ctx, log, cfg, args)
	case "token":
		return tokenCmd(cfg, args)
	case "help", "-h", "--help":
		fmt.Println(usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}
