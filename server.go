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
	log := newLogger(os.Getenv("APP_ENV"))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log, os.Args[1:]); err != nil {
		log.Error(err.Error())
		stop()
		os.Exit(1)
	}
}

func newLogger(env string) *slog.Logger {
	if env == "production" {
		return slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, nil))
}

const usage = `usage: savvysolve [serve | migrate | seed | db diff NAME | db status | db check | db hash | token CLERK_ID | schema]`

func run(ctx context.Context, log *slog.Logger, args []string) error {
	if len(args) > 0 && args[0] == "schema" { // needs no configuration
		return schemaCmd(os.Stdout, args[1:])
	}
	cfg, err := config.Load()
	if err != nil {
		return err
	}
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
