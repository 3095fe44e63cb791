// Package jobs runs the server's background work on River, a job queue kept
// in the same PostgreSQL database: applying stored webhook deliveries (Clerk
// users, Telnyx calls and texts, Stripe payments) with retries and backoff,
// creating the Stripe PaymentIntent of each ended session, and the periodic
// upkeep (solver stats recomputed nightly, retention of old deliveries and
// finished jobs). A job that keeps failing is logged at every attempt,
// counted, and finally kept as a discarded job next to its unprocessed
// delivery: visible, never lost. What a delivery changes is the domain's
// rule (desk.ApplyClerkEvent, desk.ApplyTelnyxEvent): jobs only schedules,
// retries and gives up.
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/uptrace/bun"

	"github.com/savvysolve/api/internal/desk"
	"github.com/savvysolve/api/internal/payments"
	"github.com/savvysolve/api/models"
)

// Defaults of Options and Config.
const (
	DefaultWorkers     = 10
	DefaultRetention   = 30 * 24 * time.Hour
	DefaultMaxAttempts = 12 // River's backoff (attempt⁴ s) spreads 12 attempts over about 11 hours
)

// Options are the queue's settings (configuration: JOB_WORKERS, WEBHOOK_RETENTION).
type Options struct {
	// Workers is how many jobs run at once (JOB_WORKERS). 0 starts no worker:
	// the Runner only enqueues (a replica that just receives webhooks).
	Workers int
	// Retention is how old applied deliveries and finished jobs get before
	// the retention job deletes them (WEBHOOK_RETENTION; default 30 days).
	Retention time.Duration
}

// Config is what the queue needs.
type Config struct {
	Options
	// DB is the application's database: the workers' SQL runs on it.
	DB *bun.DB
	// Pool is River's (fetching, LISTEN, inserting). Give it a direct
	// connection (DATABASE_URL_UNPOOLED), not a transaction pooler: River
	// listens for notifications.
	Pool *pgxpool.Pool
	Log  *slog.Logger
	// MaxAttempts bounds the attempts of a webhook job (default 12).
	MaxAttempts int
	// RetryPolicy schedules retries; nil is River's (attempt⁴ seconds, with jitter).
	RetryPolicy river.ClientRetryPolicy
	// PollInterval is how often idle workers look for jobs besides being
	// notified (0: River's default, one second).
	PollInterval time.Duration
	// Metrics, when set, hears of every completed and failed job.
	Metrics Metrics
	// Payments is the Stripe client (nil: payments off). The charge and
	// Stripe webhook jobs use it through the desk, which gets this Runner
	// as its queue.
	Payments *payments.Client
}

// Metrics hears how jobs end; connect it to whatever collects metrics.
type Metrics interface {
	// JobCompleted: a job of kind succeeded after running for d.
	JobCompleted(kind string, d time.Duration)
	// JobFailed: an attempt of a job of kind failed; discarded tells that it
	// was the last one, and the job is given up.
	JobFailed(kind string, attempt int, discarded bool)
}

// Runner is the started queue: its River client, and the Metrics it tells.
type Runner struct {
	client *river.Client[pgx.Tx]
	// sqlClient only inserts: it enqueues jobs inside the desk's Bun
	// transactions, which run on database/sql (a charge job commits with its
	// session's end, or not at all).
	sqlClient *river.Client[*sql.Tx]
	desk      *desk.Desk
	log       *slog.Logger
	working   bool
	stopSub   func()
	subDone   chan struct{}
	metrics   Metrics // nil: none
}

// Start builds the River client with the workers and periodic jobs, and
// starts working when cfg.Workers > 0. River's tables must exist (`migrate`
// installs them). Stop it with Stop.
func Start(ctx context.Context, cfg Config) (*Runner, error) {
	if cfg.DB == nil || cfg.Pool == nil {
		return nil, errors.New("jobs: DB and Pool are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	r := &Runner{log: cfg.Log, working: cfg.Workers > 0, metrics: cfg.Metrics}
	r.desk = desk.New(cfg.DB, desk.WithPayments(cfg.Payments, r, cfg.Log))

	workers := river.NewWorkers()
	river.AddWorker(workers, &clerkWorker{db: cfg.DB, log: cfg.Log})
	river.AddWorker(workers, &telnyxWorker{db: cfg.DB, log: cfg.Log})
	river.AddWorker(workers, &chargeWorker{desk: r.desk, log: cfg.Log})
	river.AddWorker(workers, &stripeWorker{db: cfg.DB, desk: r.desk, log: cfg.Log})
	river.AddWorker(workers, &statsWorker{db: cfg.DB, log: cfg.Log})
	river.AddWorker(workers, &retentionWorker{db: cfg.DB, log: cfg.Log, retention: cfg.Retention})

	rc := &river.Config{
		Logger:       cfg.Log,
		Workers:      workers,
		MaxAttempts:  cfg.MaxAttempts,
		RetryPolicy:  cfg.RetryPolicy,
		ErrorHandler: &errorHandler{r: r},
		// Finished jobs are deleted by the retention job, after Retention.
		CompletedJobRetentionPeriod: -1,
		CancelledJobRetentionPeriod: -1,
		DiscardedJobRetentionPeriod: -1,
		FetchPollInterval:           cfg.PollInterval,
	}
	if r.working {
		rc.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cfg.Workers}}
		rc.PeriodicJobs = periodicJobs()
	}
	client, err := river.NewClient(riverpgxv5.New(cfg.Pool), rc)
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	r.client = client
	// Insert-only (no queues, no workers): River checks kinds against the
	// working client's workers, not this one's.
	if r.sqlClient, err = river.NewClient(riverdatabasesql.New(cfg.DB.DB), &river.Config{
		Logger: cfg.Log, MaxAttempts: cfg.MaxAttempts,
	}); err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	if !r.working {
		return r, nil
	}
	events, stop := client.Subscribe(river.EventKindJobCompleted, river.EventKindJobCancelled)
	r.stopSub, r.subDone = stop, make(chan struct{})
	go r.watch(events)
	// The client lives until Stop, not until ctx ends: a shutdown should let
	// running jobs finish (Stop's soft stop), not cancel them.
	if err := client.Start(context.WithoutCancel(ctx)); err != nil {
		stop()
		<-r.subDone
		return nil, fmt.Errorf("jobs: start: %w", err)
	}
	cfg.Log.Info("job queue started", "workers", cfg.Workers, "retention", cfg.Retention, "max_attempts", cfg.MaxAttempts)
	return r, nil
}

// Stop stops fetching, waits for running jobs until ctx ends, then cancels
// them (a cancelled job runs again later: its work is idempotent).
func (r *Runner) Stop(ctx context.Context) error {
	if !r.working {
		return nil
	}
	err := r.client.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		hard, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = r.client.StopAndCancel(hard)
	}
	r.stopSub()
	<-r.subDone
	return err
}

// EnqueueTx adds the job that applies the stored webhook event eventID, in
// tx: the job exists exactly when the delivery does.
func (r *Runner) EnqueueTx(ctx context.Context, tx pgx.Tx, source, eventID string) error {
	var args river.JobArgs
	switch source {
	case models.SourceClerk:
		args = ClerkEventArgs{EventID: eventID}
	case models.SourceTelnyx:
		args = TelnyxEventArgs{EventID: eventID}
	case models.SourceStripe:
		args = StripeEventArgs{EventID: eventID}
	default:
		return fmt.Errorf("jobs: no job for webhooks from %q", source)
	}
	_, err := r.client.InsertTx(ctx, tx, args, nil)
	return err
}

// EnqueueChargeTx adds, inside the desk's transaction tx, the job that
// creates the PaymentIntent of the ended session sessionID (desk.Queue).
func (r *Runner) EnqueueChargeTx(ctx context.Context, tx bun.Tx, sessionID string) error {
	_, err := r.sqlClient.InsertTx(ctx, tx.Tx, ChargeSessionArgs{SessionID: sessionID}, nil)
	return err
}

// Enqueue adds a job now (for example the upkeep jobs, to run one out of schedule).
func (r *Runner) Enqueue(ctx context.Context, args river.JobArgs) (int64, error) {
	res, err := r.client.Insert(ctx, args, nil)
	if err != nil {
		return 0, err
	}
	return res.Job.ID, nil
}

// watch tells Metrics, from River's event stream, of the jobs that completed
// and those a worker gave up on at once (river.JobCancel: a delivery that can
// never be applied; River calls no error handler for those).
func (r *Runner) watch(events <-chan *river.Event) {
	defer close(r.subDone)
	for ev := range events {
		if ev.Job == nil {
			continue
		}
		switch ev.Kind {
		case river.EventKindJobCompleted:
			if r.metrics != nil {
				var d time.Duration
				if ev.JobStats != nil {
					d = ev.JobStats.RunDuration
				}
				r.metrics.JobCompleted(ev.Job.Kind, d)
			}
		case river.EventKindJobCancelled:
			if r.metrics != nil {
				r.metrics.JobFailed(ev.Job.Kind, ev.Job.Attempt, true)
			}
		}
	}
}

// errorHandler logs every failed attempt, and loudly the last one.
type errorHandler struct{ r *Runner }

func (h *errorHandler) HandleError(ctx context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	h.failed(ctx, job, err.Error(), "")
	return nil
}

func (h *errorHandler) HandlePanic(ctx context.Context, job *rivertype.JobRow, panicVal any, trace string) *river.ErrorHandlerResult {
	h.failed(ctx, job, fmt.Sprintf("panic: %v", panicVal), trace)
	return nil
}

func (h *errorHandler) failed(ctx context.Context, job *rivertype.JobRow, msg, trace string) {
	discarded := job.Attempt >= job.MaxAttempts
	r := h.r
	if r.metrics != nil {
		r.metrics.JobFailed(job.Kind, job.Attempt, discarded)
	}
	attrs := []any{"kind", job.Kind, "job", job.ID, "attempt", job.Attempt, "max_attempts", job.MaxAttempts,
		"args", string(job.EncodedArgs), "err", msg}
	if trace != "" {
		attrs = append(attrs, "trace", trace)
	}
	if discarded {
		r.log.ErrorContext(ctx, "job discarded after its last attempt: it stays in river_job (state discarded); a webhook job's event stays unprocessed in webhook_events, a charge job's session stays REQUIRES_PAYMENT without a client secret", attrs...)
		return
	}
	r.log.WarnContext(ctx, "job attempt failed, will retry", attrs...)
}

// OpenPool opens River's pgx pool on url, which should be a direct connection
// (DATABASE_URL_UNPOOLED): River listens for notifications and keeps a
// leader lock. It holds a few connections besides the ones webhook requests
// borrow; the workers' own SQL runs on the application's pool. It does not
// dial: River's start is its first use and checks it, so a server need not
// wait for it before serving. Dials give up after timeout unless url sets
// its own.
func OpenPool(ctx context.Context, url string, timeout time.Duration) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil { // its message may quote the URL, password included
		return nil, errors.New("jobs: DATABASE_URL_UNPOOLED is not a valid connection string")
	}
	cfg.MaxConns = 10
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = timeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("jobs: %w", err)
	}
	return pool, nil
}
