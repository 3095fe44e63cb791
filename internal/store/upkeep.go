package store

import (
	"context"
	"time"

	"github.com/uptrace/bun"
)

// RecomputeSolverStats recomputes every solver's stats from the rows they
// summarise (ratings; ended sessions and their earnings, less the sessions of
// refunded tickets, which a refund takes out), the way the writes
// that keep them up to date count, and returns how many solvers' stats had
// drifted. Run it in a transaction: it first locks the solver rows, so a
// session ending meanwhile is either counted or waits, never lost.
func RecomputeSolverStats(ctx context.Context, tx bun.Tx) (int, error) {
	if _, err := tx.NewRaw(`SELECT id FROM solvers ORDER BY id FOR UPDATE`).Exec(ctx); err != nil {
		return 0, mapErr(err, "solver")
	}
	var userIDs []string
	err := tx.NewRaw(`
WITH fresh AS (
  SELECT s.id, s.stats || jsonb_build_object(
    'averageRating', (SELECT round(avg(r.rating)::numeric, 2) FROM ratings r WHERE r.solver_id = s.id),
    'totalRatings', (SELECT count(*) FROM ratings r WHERE r.solver_id = s.id),
    'completedSessions', (SELECT count(*) FROM sessions x JOIN tickets t ON t.id = x.ticket_id
      WHERE x.solver_id = s.id AND x.ended_at IS NOT NULL AND t.status <> 'refunded'),
    'totalEarningsCents', (SELECT coalesce(sum(x.earnings), 0) FROM sessions x JOIN tickets t ON t.id = x.ticket_id
      WHERE x.solver_id = s.id AND x.ended_at IS NOT NULL AND t.status <> 'refunded')
  ) AS stats
  FROM solvers s
)
UPDATE solvers s SET stats = f.stats, updated_at = now()
FROM fresh f
WHERE f.id = s.id AND s.stats IS DISTINCT FROM f.stats
RETURNING s.user_id::text`).Scan(ctx, &userIDs)
	if err != nil {
		return 0, mapErr(err, "solver")
	}
	return len(userIDs), nil // no events.User: no viewer serves stats (see users.go)
}

// DeleteProcessedWebhookEvents deletes the applied webhook deliveries received
// before before. Deliveries never applied stay: they are the record of a job
// that failed for good.
func DeleteProcessedWebhookEvents(ctx context.Context, db DB, before time.Time) (int, error) {
	res, err := db.NewRaw(`DELETE FROM webhook_events WHERE received_at < ? AND processed_at IS NOT NULL`, before).Exec(ctx)
	if err != nil {
		return 0, mapErr(err, "webhook event")
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// DeleteFinishedJobs deletes the River jobs (completed, cancelled or
// discarded) that finished before before.
func DeleteFinishedJobs(ctx context.Context, db DB, before time.Time) (int, error) {
	res, err := db.NewRaw(`DELETE FROM river_job
WHERE state IN ('completed', 'cancelled', 'discarded') AND finalized_at < ?`, before).Exec(ctx)
	if err != nil {
		return 0, mapErr(err, "job")
	}
	n, err := res.RowsAffected()
	return int(n), err
}
