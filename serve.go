package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bytedance/gopkg/util/gctuner"

	"github.com/jackc/pgx/v5"
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

// serve starts the server and serves until ctx ends. The order makes /readyz
// answer 200 as soon as a request would succeed: the HTTP port first (alive,
// not ready), then the database pool (one connection that answers), then the
// handler; the LISTEN connection and the job queue start in the background
// (docs/operations.md, "Start-up").
func serve(ctx context.Context, log *slog.Logger, cfg config.Config) error {
	ph := newPhases(began)
	ph.done("config")
	tuneGC(log, cfg.GCHeapTargetMB)
	shutdownTracing, tracing, err := startTracing(ctx, log)
	if err != nil {
		return err
	}
	defer shutdownTracing()
	srv, err := startWeb(ctx, log, cfg)
	if err != nil {
		return err
	}
	defer srv.close()
	ph.done("listen")
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
		ph.done("embedded_pg")
	}
	db, err := database.Open(ctx, cfg.DatabaseURL, cfg.Pool)
	if err != nil {
		return err
	}
	defer db.Close()
	ph.done("db")
	if cfg.AutoMigrate {
		if err := migrateUnpooled(ctx, log, cfg); err != nil {
			return err
		}
		ph.done("migrate")
	}
	if cfg.AutoSeed {
		if err := seedIfEmpty(ctx, log, db); err != nil {
			return err
		}
		ph.done("seed")
	}
	authn, err := auth.New(ctx, db, desk.New(db), cfg.Auth)
	if err != nil {
		return err
	}
	ph.done("auth")
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
	// Subscribers need not wait for the LISTEN: the hub catches up from the
	// database once it is in place.
	go hub.Listen(lctx, cfg.DatabaseURLUnpooled)
	cfg.Payments.Log = log
	pay := payments.New(cfg.Payments)
	if !pay.Enabled() {
		log.Info("payments off: no STRIPE_SECRET_KEY, every session is UNBILLED")
	}
	pool, err := jobs.OpenPool(ctx, cfg.DatabaseURLUnpooled, cfg.Pool.ConnectTimeout)
	if err != nil {
		return err
	}
	defer pool.Close()
	queue := startJobs(ctx, jobs.Config{Options: cfg.Jobs, DB: db, Pool: pool, Log: log, Metrics: metrics, Payments: pay})
	defer queue.Stop(log, cfg.ShutdownGrace)
	hooks, err := webhooks.New(webhooks.Config{Secrets: cfg.Webhooks, Pool: pool, Jobs: queue, Log: log})
	if err != nil {
		return err
	}
	draining := new(atomic.Bool)
	if benchLoaders != nil {
		benchLoaders(&cfg.Loaders)
	}
	srv.serve(api.New(api.Deps{
		DB: db, Auth: authn, Live: hub, Log: log, Migrations: dir,
		Production: cfg.Production(), PlaygroundHeaders: devHeaders(ctx, log, cfg, db),
		AllowedOrigins: cfg.AllowedOrigins, Sockets: sockets, Metrics: metrics, Webhooks: hooks,
		Payments: pay, Charges: queue,
		Draining: draining, Tracing: tracing, Loaders: cfg.Loaders, Limits: cfg.Limits,
	}))
	ph.done("handler")
	ph.ready(log)
	return srv.run(ctx, log, cfg, sockets, draining, queue.failed)
}

// tuneGC lets the heap grow to about targetMB before the garbage collector
// runs, while the live heap is under half of that. A request allocates
// a few hundred kilobytes to a megabyte that are garbage once it is
// answered, over a live heap of some 10 MB: at Go's default (collect when
// the heap doubles) the collector ran every few requests and cost a fifth
// of the server's CPU. The tuner (bytedance's gctuner: GOGC recomputed after
// every collection from the heap in use: (target - in use) / in use) raises
// GOGC while the live heap is small, up to 500, and never lowers it below
// Go's 100: a replica holding
// 50,000 subscriptions (hundreds of MB live) collects as before. GOGC or
// GC_HEAP_TARGET_MB=0 turns it off; GOMEMLIMIT still caps the heap.
// It reports whether it turned the tuner on.
func tuneGC(log *slog.Logger, targetMB int) bool {
	if targetMB <= 0 || os.Getenv("GOGC") != "" {
		return false
	}
	gctuner.SetMinGCPercent(100)
	gctuner.SetMaxGCPercent(500)
	gctuner.Tuning(uint64(targetMB) << 20)
	log.Debug("garbage collector tuned", "heap_target_mb", targetMB)
	return true
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

// jobQueue is the job queue (River, in the same database), started in the
// background: River takes 15-30 ms to start (a connection, its services) and
// serving needs none of it. A request that enqueues a job before it has
// started (a webhook delivery, a session's charge) waits for it.
type jobQueue struct {
	started chan struct{} // closed when the start ended, well or not
	failed  chan error    // receives the error of a start that failed
	runner  *jobs.Runner
	err     error
}

func startJobs(ctx context.Context, c jobs.Config) *jobQueue {
	q := &jobQueue{started: make(chan struct{}), failed: make(chan error, 1)}
	go func() {
		defer close(q.started)
		if q.runner, q.err = jobs.Start(ctx, c); q.err != nil {
			q.failed <- q.err
		}
	}()
	return q
}

// wait returns once the queue has started, or the reason it cannot be used.
func (q *jobQueue) wait(ctx context.Context) error {
	select {
	case <-q.started:
		return q.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// EnqueueTx is the runner's, once it has started (for the webhooks).
func (q *jobQueue) EnqueueTx(ctx context.Context, tx pgx.Tx, source, eventID string) error {
	if err := q.wait(ctx); err != nil {
		return err
	}
	return q.runner.EnqueueTx(ctx, tx, source, eventID)
}

// EnqueueChargeTx is the runner's, once it has started (desk.Queue).
func (q *jobQueue) EnqueueChargeTx(ctx context.Context, tx bun.Tx, sessionID string) error {
	if err := q.wait(ctx); err != nil {
		return err
	}
	return q.runner.EnqueueChargeTx(ctx, tx, sessionID)
}

// Stop stops the queue once its start has ended, letting running jobs finish
// within grace.
func (q *jobQueue) Stop(log *slog.Logger, grace time.Duration) {
	<-q.started
	if q.runner == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := q.runner.Stop(ctx); err != nil {
		log.Warn("job queue: stop", "err", err)
	}
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
