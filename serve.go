package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/uptrace/bun"

	"github.com/savvysolve/api/internal/api"
	"github.com/savvysolve/api/internal/auth"
	"github.com/savvysolve/api/internal/config"
	"github.com/savvysolve/api/internal/database"
	"github.com/savvysolve/api/internal/desk"
	"github.com/savvysolve/api/internal/embeddedpg"
	"github.com/savvysolve/api/internal/jobs"
	"github.com/savvysolve/api/internal/live"
	"github.com/savvysolve/api/internal/observe"
	"github.com/savvysolve/api/internal/payments"
	"github.com/savvysolve/api/internal/seed"
	"github.com/savvysolve/api/internal/store"
	"github.com/savvysolve/api/internal/webhooks"
	"github.com/savvysolve/api/internal/wsconn"
	"github.com/savvysolve/api/loaders"
	"github.com/savvysolve/api/migrations"
)

// embeddedDB is the database the server uses inside its embedded cluster.
const embeddedDB = "postgres"

// devTokenTTL is how long the development tokens printed at start stay valid.
const devTokenTTL = 30 * 24 * time.Hour

// benchLoaders is nil in the server: only the benchmark's build overlay
// (bench/server.go) sets it, to switch the dataloaders off for its
// comparison runs. No configuration can.
var benchLoaders func(*loaders.Options)

func startEmbedded(ctx context.Context, log *slog.Logger, cfg config.Config) (*embeddedpg.Cluster, error) {
	o := cfg.EmbeddedPG
	o.Logger = log
	c, err := embeddedpg.Start(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("start the embedded PostgreSQL (set DATABASE_URL to use another): %w", err)
	}
	log.Info("embedded PostgreSQL started", "data", o.DataDir, "url", c.URL(embeddedDB))
	return c, nil
}

func serve(ctx context.Context, log *slog.Logger, cfg config.Config) error {
	shutdownTracing, tracing, err := startTracing(ctx, log)
	if err != nil {
		return err
	}
	defer shutdownTracing()
	if cfg.Embedded {
		cluster, err := startEmbedded(ctx, log, cfg)
		if err != nil {
			return err
		}
		defer cluster.Stop()
		cfg.DatabaseURL = cluster.URL(embeddedDB)
		cfg.DatabaseURLUnpooled = cfg.DatabaseURL
		if cfg.Auth.Secret == "" {
			if cfg.Auth.Secret, err = devSecret(cfg.EmbeddedPG.DataDir); err != nil {
				return err
			}
		}
	}
	db, err := database.Open(ctx, cfg.DatabaseURL, cfg.Pool)
	if err != nil {
		return err
	}
	defer db.Close()
	if cfg.AutoMigrate {
		if err := migrateUnpooled(ctx, log, cfg); err != nil {
			return err
		}
	}
	if cfg.AutoSeed {
		if err := seedIfEmpty(ctx, log, db); err != nil {
			return err
		}
	}
	authn, err := auth.New(ctx, db, desk.New(db), cfg.Auth)
	if err != nil {
		return err
	}
	dir, err := migrations.Dir()
	if err != nil {
		return err
	}
	sockets := wsconn.NewRegistry()
	metrics := observe.NewMetrics(observe.MetricsConfig{DB: db.DB, WebSockets: sockets.Len})
	hub := live.New(db, log)
	hub.Observe = metrics    // before Listen starts, which reads it
	hub.Watch(authn.Cache()) // viewers are cached while the listener tells of changes
	lctx, stopListening := context.WithCancel(context.WithoutCancel(ctx))
	defer stopListening()
	go hub.Listen(lctx, cfg.DatabaseURLUnpooled)
	cfg.Payments.Log = log
	pay := payments.New(cfg.Payments)
	if !pay.Enabled() {
		log.Info("payments off: no STRIPE_SECRET_KEY, every session is UNBILLED")
	}
	hooks, queue, stopJobs, err := startJobs(ctx, log, cfg, db, metrics, pay)
	if err != nil {
		return err
	}
	defer stopJobs()
	draining := new(atomic.Bool)
	if benchLoaders != nil {
		benchLoaders(&cfg.Loaders)
	}
	h := api.New(api.Deps{
		DB: db, Auth: authn, Live: hub, Log: log, Migrations: dir,
		Production: cfg.Production(), PlaygroundHeaders: devHeaders(ctx, log, cfg, db),
		AllowedOrigins: cfg.AllowedOrigins, Sockets: sockets, Metrics: metrics, Webhooks: hooks,
		Payments: pay, Charges: queue,
		Draining: draining, Tracing: tracing, Loaders: cfg.Loaders, Limits: cfg.Limits,
	})
	return listen(ctx, log, cfg, h, sockets, draining)
}

// startTracing exports traces over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set.
func startTracing(ctx context.Context, log *slog.Logger) (func(), bool, error) {
	shutdown, enabled, err := observe.Tracing(ctx, "savvysolve-api")
	if err != nil {
		return nil, false, err
	}
	if enabled {
		log.Info("tracing: exporting spans over OTLP/HTTP")
	}
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdown(sctx); err != nil {
			log.Warn("tracing: flush on shutdown", "err", err)
		}
	}, enabled, nil
}

// startJobs starts the job queue (River, in the same database) and returns the
// webhook endpoints that feed it, the queue, and the function that stops it.
func startJobs(ctx context.Context, log *slog.Logger, cfg config.Config, db *bun.DB, m jobs.Metrics, pay *payments.Client) (http.Handler, *jobs.Runner, func(), error) {
	// River listens for new jobs: it needs a direct connection, not a transaction pooler.
	pool, err := jobs.OpenPool(ctx, cfg.DatabaseURLUnpooled)
	if err != nil {
		return nil, nil, nil, err
	}
	queue, err := jobs.Start(ctx, jobs.Config{Options: cfg.Jobs, DB: db, Pool: pool, Log: log, Metrics: m, Payments: pay})
	if err != nil {
		pool.Close()
		return nil, nil, nil, err
	}
	stop := func() {
		sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
		defer cancel()
		if err := queue.Stop(sctx); err != nil {
			log.Warn("job queue: stop", "err", err)
		}
		pool.Close()
	}
	hooks, err := webhooks.New(webhooks.Config{Secrets: cfg.Webhooks, Pool: pool, Jobs: queue, Log: log})
	if err != nil {
		stop()
		return nil, nil, nil, err
	}
	return hooks, queue, stop, nil
}

func migrateUnpooled(ctx context.Context, log *slog.Logger, cfg config.Config) error {
	db, err := database.OpenSQL(cfg.DatabaseURLUnpooled, database.Options{MaxConns: 2, ConnectTimeout: cfg.Pool.ConnectTimeout})
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := applyMigrations(ctx, log, db)
	if err != nil {
		return err
	}
	log.Info("migrations up to date", "applied_now", n)
	return nil
}

func seedIfEmpty(ctx context.Context, log *slog.Logger, db *bun.DB) error {
	seeded, err := store.HasUsers(ctx, db)
	if err != nil || seeded {
		return err
	}
	if err := seed.Run(ctx, db); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	log.Info("seeded an empty database", "users", strings.Join(seed.ClerkIDs, ", "))
	return nil
}

// devSecret returns the development signing secret kept next to the embedded
// cluster's data, creating it on first use.
func devSecret(dataDir string) (string, error) {
	path := filepath.Join(filepath.Dir(dataDir), "dev-jwt-secret")
	if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
		return strings.TrimSpace(string(b)), nil
	}
	b := make([]byte, 32)
	rand.Read(b)
	secret := hex.EncodeToString(b)
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write the development secret: %w", err)
	}
	return secret, nil
}

// devHeaders prints, and offers in the Playground, a ready Authorization
// header for each seeded user, when the server signs its own tokens.
func devHeaders(ctx context.Context, log *slog.Logger, cfg config.Config, db *bun.DB) map[string]map[string]string {
	if cfg.Production() || cfg.Auth.Secret == "" {
		return nil
	}
	sets := map[string]map[string]string{}
	var lines []string
	present, err := store.PresentClerkIDs(ctx, db, seed.ClerkIDs)
	if err != nil {
		return nil
	}
	for _, id := range seed.ClerkIDs {
		if !slices.Contains(present, id) {
			continue
		}
		tok, err := auth.SignHS256([]byte(cfg.Auth.Secret), id, devTokenTTL)
		if err != nil {
			return nil
		}
		sets[id] = map[string]string{"Authorization": "Bearer " + tok}
		lines = append(lines, fmt.Sprintf("  %-16s Authorization: Bearer %s", id, tok))
	}
	if len(lines) > 0 {
		fmt.Fprintf(os.Stderr, "\nDevelopment tokens (valid %s; also in the Playground's header menu):\n%s\n\n",
			devTokenTTL, strings.Join(lines, "\n"))
	}
	return sets
}

func listen(ctx context.Context, log *slog.Logger, cfg config.Config, h http.Handler, sockets *wsconn.Registry, draining *atomic.Bool) error {
	srv := &http.Server{
		Addr:              net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)),
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		return err
	}
	log.Info("listening", "addr", ln.Addr().String(), "playground", "http://localhost:"+strconv.Itoa(cfg.Port)+"/")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Readiness goes red first, so load balancers stop sending new requests
	// while this replica still serves the ones they already sent.
	draining.Store(true)
	log.Info("shutting down", "delay", cfg.ShutdownDelay, "grace", cfg.ShutdownGrace, "websockets", sockets.Len())
	time.Sleep(cfg.ShutdownDelay)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownGrace)
	defer cancel()
	// Shutdown does not touch hijacked connections: close websockets ourselves,
	// with 1001 so clients reconnect (to another replica) and resume.
	sockets.CloseAll(wsconn.CodeGoingAway, "server shutting down")
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

func seedCmd(ctx context.Context, log *slog.Logger, cfg config.Config) error {
	url := cfg.DatabaseURL
	if cfg.Embedded {
		c, err := startEmbedded(ctx, log, cfg)
		if err != nil {
			return err
		}
		defer c.Stop()
		url = c.URL(embeddedDB)
	}
	db, err := database.Open(ctx, url, database.Options{MaxConns: 2})
	if err != nil {
		return err
	}
	defer db.Close()
	if err := seed.Run(ctx, db); err != nil {
		return err
	}
	fmt.Println("seed: done")
	return nil
}

func tokenCmd(cfg config.Config, args []string) error {
	if len(args) != 1 {
		return errors.New("usage: token CLERK_ID (for example: token seed_admin)")
	}
	secret := cfg.Auth.Secret
	if secret == "" && cfg.Embedded {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(cfg.EmbeddedPG.DataDir), "dev-jwt-secret"))
		if err != nil {
			return errors.New("set AUTH_JWT_SECRET (or start the embedded server once to create its development secret)")
		}
		secret = strings.TrimSpace(string(b))
	}
	tok, err := auth.SignHS256([]byte(secret), args[0], devTokenTTL)
	if err != nil {
		return err
	}
	fmt.Println(tok)
	return nil
}
