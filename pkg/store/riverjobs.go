package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// River keeps a job "running" until its worker reports back, and its own
// rescuer frees the jobs of a worker that died only after the job timeout
// plus a margin, checked every 30 s: 45–75 s during which a unique job (a
// bot's reconcile) can be neither worked nor inserted again. River requires
// "running" among the unique states (UniqueOpts.ByState), so instead the
// leader asks which River clients are dead (their session lock is gone) and
// makes their running jobs available at once: what River's rescuer does,
// sooner. Besides River, only this and SettleReconcile write River's table.

// RunningJobWorkers returns the River clients that work running jobs now
// (the last element of each running job's attempted_by).
func (s *Store) RunningJobWorkers(ctx context.Context) ([]string, error) {
	rows, _ := s.pool.Query(ctx, `SELECT DISTINCT attempted_by[cardinality(attempted_by)] FROM river_job
		WHERE state = 'running' AND cardinality(attempted_by) > 0`)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, wrap("running job workers", err)
}

// RequeueJobsOf makes the running jobs of dead River clients available
// again (discarded when out of attempts, as River's rescuer would), with an
// error entry saying why. It returns how many jobs it moved.
func (s *Store) RequeueJobsOf(ctx context.Context, clients []string, now time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE river_job SET
			state = CASE WHEN attempt >= max_attempts THEN 'discarded' ELSE 'available' END::river_job_state,
			scheduled_at = $2::timestamptz,
			finalized_at = CASE WHEN attempt >= max_attempts THEN $2::timestamptz END,
			errors = array_append(errors, jsonb_build_object('at', $2::timestamptz, 'attempt', attempt,
				'error', 'meeboter: the replica working this job ended (its database session is gone); requeued',
				'trace', ''))
		WHERE state = 'running' AND attempted_by[cardinality(attempted_by)] = ANY($1)`, clients, now)
	return tag.RowsAffected(), wrap("requeue jobs", err)
}

// JobCount is how many of a queue's jobs are in a state, and how long the
// oldest of them has been due (by the database's clock, the one River
// writes scheduled_at with).
type JobCount struct {
	Queue, State     string
	Count            int64
	OldestDueSeconds float64
}

// JobCounts counts River's jobs by queue and state, for the operator.
func (s *Store) JobCounts(ctx context.Context) ([]JobCount, error) {
	rows, _ := s.pool.Query(ctx, `SELECT queue, state::text, count(*),
		greatest(0, extract(epoch FROM now() - min(scheduled_at)))::float8
		FROM river_job GROUP BY queue, state`)
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (JobCount, error) {
		var c JobCount
		err := row.Scan(&c.Queue, &c.State, &c.Count, &c.OldestDueSeconds)
		return c, err
	})
}
