package jobs

import (
	"context"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/uptrace/bun"

	"github.com/savvysolve/api/internal/store"
)

// SolverStatsArgs is the job that recomputes every solver's stats from scratch.
type SolverStatsArgs struct{}

// Kind names the job in river_job.
func (SolverStatsArgs) Kind() string { return "solver_stats" }

// InsertOpts: an upkeep job that fails is retried a few times, not for hours.
func (SolverStatsArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 5} }

// RetentionArgs is the job that deletes old applied deliveries and finished jobs.
type RetentionArgs struct{}

// Kind names the job in river_job.
func (RetentionArgs) Kind() string { return "retention" }

// InsertOpts: an upkeep job that fails is retried a few times, not for hours.
func (RetentionArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 5} }

// periodicJobs are enqueued by the elected leader among the replicas. Both
// jobs are idempotent, so an extra run (a new leader's RunOnStart) is harmless.
func periodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{
		river.NewPeriodicJob(dailyAt{hour: 3},
			func() (river.JobArgs, *river.InsertOpts) { return SolverStatsArgs{}, nil },
			&river.PeriodicJobOpts{ID: "solver_stats"}),
		river.NewPeriodicJob(river.PeriodicInterval(time.Hour),
			func() (river.JobArgs, *river.InsertOpts) { return RetentionArgs{}, nil },
			&river.PeriodicJobOpts{ID: "retention", RunOnStart: true}),
	}
}

// dailyAt is a schedule: every day at hour:minute UTC.
type dailyAt struct{ hour, minute int }

func (d dailyAt) Next(t time.Time) time.Time {
	t = t.UTC()
	next := time.Date(t.Year(), t.Month(), t.Day(), d.hour, d.minute, 0, 0, time.UTC)
	if !next.After(t) {
		next = next.AddDate(0, 0, 1)
	}
	return next
}

// statsWorker recomputes the solvers' denormalized stats, which the writes
// keep up to date one change at a time and which would otherwise drift
// forever after a single missed or doubled change.
type statsWorker struct {
	river.WorkerDefaults[SolverStatsArgs]
	db  *bun.DB
	log *slog.Logger
}

func (w *statsWorker) Work(ctx context.Context, _ *river.Job[SolverStatsArgs]) error {
	var fixed int
	err := w.db.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) (err error) {
		fixed, err = store.RecomputeSolverStats(ctx, tx)
		return err
	})
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	if fixed > 0 {
		level = slog.LevelWarn // drift means a write path counts wrong
	}
	w.log.Log(ctx, level, "solver stats recomputed", "drifted", fixed)
	return nil
}

// retentionWorker deletes applied webhook deliveries and finished jobs older
// than the retention. Deliveries never applied stay, whatever their age.
type retentionWorker struct {
	river.WorkerDefaults[RetentionArgs]
	db        *bun.DB
	log       *slog.Logger
	retention time.Duration
}

func (w *retentionWorker) Work(ctx context.Context, _ *river.Job[RetentionArgs]) error {
	before := time.Now().Add(-w.retention)
	events, err := store.DeleteProcessedWebhookEvents(ctx, w.db, before)
	if err != nil {
		return err
	}
	jobs, err := store.DeleteFinishedJobs(ctx, w.db, before)
	if err != nil {
		return err
	}
	w.log.InfoContext(ctx, "retention: old webhook deliveries and finished jobs deleted", "before", before, "webhook_events", events, "jobs", jobs)
	return nil
}
