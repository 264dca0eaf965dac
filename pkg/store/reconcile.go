package store

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The methods in this file are the controllers' writes. They are conditional
// (they re-check the state they expect) so that a concurrent bot or API write
// is never overwritten. A bot reconciler's own writes do not bump revision (it
// loops over its own changes itself); writes by another controller (Admit,
// RecordObservation) do, so a reconcile running meanwhile runs again.

// LoadBot returns a bot and the deployment of its current attempt (nil
// before the first admission) in one statement: one round trip, and the two
// rows (and the bot's revision) come from one snapshot, so they agree.
func (s *Store) LoadBot(ctx context.Context, id uuid.UUID) (Bot, *Deployment, error) {
	rows, _ := s.pool.Query(ctx, `SELECT b.*, d.* FROM bots b
		LEFT JOIN deployments d ON d.bot_id = b.id AND d.attempt = b.current_attempt
		WHERE b.id = $1`, id)
	type loaded struct {
		bot Bot
		d   *Deployment
	}
	l, err := pgx.CollectExactlyOneRow(rows, func(row pgx.CollectableRow) (loaded, error) {
		b, d, err := scanBotJoin(row)
		return loaded{b, d}, err
	})
	if err != nil {
		return l.bot, nil, notFound(err)
	}
	return l.bot, l.d, nil
}

// scanBotJoin scans a row of bots.* followed by deployments.* (NULLs when
// no deployment joined) by column name into both row types, in one Scan.
func scanBotJoin(row pgx.CollectableRow) (Bot, *Deployment, error) {
	fields := row.FieldDescriptions()
	split := 1 // the first column of the second table
	for split < len(fields) && fields[split].TableOID == fields[0].TableOID {
		split++
	}
	dest := make([]any, len(fields)) // a nil destination skips its column
	b, err := pgx.RowToAddrOfStructByName[Bot](columnRun{row, dest, 0, split})
	if err != nil {
		return Bot{}, nil, err
	}
	var d *Deployment
	// deployments.bot_id is NOT NULL: NULL means no deployment joined.
	if split < len(fields) && row.RawValues()[split] != nil {
		if d, err = pgx.RowToAddrOfStructByName[Deployment](columnRun{row, dest, split, len(fields)}); err != nil {
			return Bot{}, nil, err
		}
	}
	if err := row.Scan(dest...); err != nil {
		return Bot{}, nil, err
	}
	return *b, d, nil
}

// columnRun is the columns [from, to) of a row, so that pgx's scanning by
// name fills one row type of a join: its Scan only collects the
// destinations into dest, which the caller then scans in one call.
type columnRun struct {
	pgx.CollectableRow
	dest     []any
	from, to int
}

func (c columnRun) FieldDescriptions() []pgconn.FieldDescription {
	return c.CollectableRow.FieldDescriptions()[c.from:c.to]
}

func (c columnRun) Scan(dest ...any) error {
	copy(c.dest[c.from:c.to], dest)
	return nil
}

func (c columnRun) RawValues() [][]byte { return c.CollectableRow.RawValues()[c.from:c.to] }

func (c columnRun) Values() ([]any, error) {
	v, err := c.CollectableRow.Values()
	if err != nil {
		return nil, err
	}
	return v[c.from:c.to], nil
}

// QueueBot moves a SCHEDULED bot whose time has come to QUEUED.
func (s *Store) QueueBot(ctx context.Context, id uuid.UUID, now time.Time) error {
	return wrap("queue bot", s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE bots SET status = 'QUEUED', queued_at = $2, updated_at = $2
			WHERE id = $1 AND status = 'SCHEDULED'`, id, now)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		if err := s.statusChangedTx(ctx, tx, id, StatusQueued, nil, now); err != nil {
			return err
		}
		return wakeTx(ctx, tx, WakeAdmit)
	}))
}

// Leads are how long before its join_at a scheduled bot is admitted: on
// the platform its capacity is reserved on, else Unreserved.
type Leads struct {
	Reserved   map[string]time.Duration
	Unreserved time.Duration
}

// QueueDueScheduled queues, in bulk, the SCHEDULED bots whose admission time
// (join_at less their lead) has come: admission does not wait for each
// bot's reconcile job, which a burst may hold up.
func (s *Store) QueueDueScheduled(ctx context.Context, now time.Time, leads Leads, limit int) (int, error) {
	platforms, durations := make([]string, 0, len(leads.Reserved)), make([]time.Duration, 0, len(leads.Reserved))
	for p, d := range leads.Reserved {
		platforms, durations = append(platforms, p), append(durations, d)
	}
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `UPDATE bots SET status = 'QUEUED', queued_at = $1, updated_at = $1, revision = revision + 1
			WHERE id IN (SELECT id FROM bots WHERE status = 'SCHEDULED' AND desired = 'RUNNING'
				AND join_at - COALESCE((SELECT l FROM unnest($2::text[], $3::interval[]) AS lead (p, l)
					WHERE p = reserved_platform), $4::interval) <= $1
				ORDER BY join_at LIMIT $5 FOR UPDATE SKIP LOCKED)
			RETURNING id`, now, platforms, durations, leads.Unreserved, limit)
		ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil || len(ids) == 0 {
			return err
		}
		for _, id := range ids {
			if err := s.statusChangedTx(ctx, tx, id, StatusQueued, nil, now); err != nil {
				return err
			}
		}
		n = len(ids)
		return wakeTx(ctx, tx, WakeAdmit)
	})
	return n, wrap("queue due scheduled", err)
}

// Admit claims capacity on a platform for queued bots: those whose capacity
// is reserved there first, then the others in fair order across tenants
// (fairQueueSQL), at most p.Limit
// live deployments in all, and never the room a reservation that may start
// within an unreserved bot's lifetime was promised. Capacity is counted from
// rows under the platform's admission lock, so replicas agree. Each admitted
// bot gets its attempt's deployment row (PENDING) before anything is
// created.
func (s *Store) Admit(ctx context.Context, p PlatformLimit, now time.Time) ([]uuid.UUID, error) {
	var admitted []uuid.UUID
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockPlatformTx(ctx, tx, p.Platform); err != nil {
			return err
		}
		used, err := liveOnTx(ctx, tx, p.Platform)
		if err != nil || used >= p.Limit {
			return err
		}
		reserved, err := s.claimQueuedTx(ctx, tx, p.Platform, true, p.Limit-used, now, time.Time{})
		if err != nil {
			return err
		}
		room, err := unreservedRoomTx(ctx, tx, p, used+len(reserved), now)
		if err != nil {
			return err
		}
		others, err := s.claimQueuedTx(ctx, tx, p.Platform, false, room, now, p.QueuedBy)
		if err != nil {
			return err
		}
		admitted = slices.Concat(reserved, others)
		if len(admitted) == 0 {
			return nil
		}
		return s.enq.EnqueueReconcileTx(ctx, tx, admitted...)
	})
	return admitted, wrap("admit", err)
}

func liveOnTx(ctx context.Context, tx pgx.Tx, platform string) (int, error) {
	var used int
	err := tx.QueryRow(ctx, `SELECT count(*) FROM deployments WHERE platform = $1 AND state <> 'GONE'`, platform).Scan(&used)
	return used, err
}

// unreservedRoomTx is the room on p for bots without a reservation, used
// live deployments given: a bot admitted now may run a lifetime, so the
// room is what every instant of that lifetime has left once the
// reservations keep theirs.
func unreservedRoomTx(ctx context.Context, tx pgx.Tx, p PlatformLimit, used int, now time.Time) (int, error) {
	peak, err := peakTx(ctx, tx, p.Platform, now, now.Add(p.Lifetime), p.Lifetime)
	return max(min(p.Limit-used, p.Limit-peak), 0), err
}

// fairQueueSQL ranks the queued bots that match where (SQL) fairly across
// tenants (owners), as CTE "ranked": a bot's turn is its tenant's live bots
// (on any platform) plus its place in its tenant's queue, so the tenant
// using least goes next and one tenant's backlog cannot starve another's
// bot; equal turns go oldest first. Reserved and unreserved bots are ranked
// apart (reserved ones are served first anyway).
func fairQueueSQL(where string) string {
	return `WITH queue AS (
		SELECT id, owner, queued_at, reserved_platform IS NOT NULL AS reserved FROM bots
		WHERE status = 'QUEUED' AND (` + where + `)
	), live AS (
		SELECT b.owner, count(*) AS n FROM deployments d JOIN bots b ON b.id = d.bot_id
		WHERE d.state <> 'GONE' AND b.owner IN (SELECT owner FROM queue) GROUP BY b.owner
	), ranked AS (
		SELECT q.id, q.queued_at, q.reserved, COALESCE(l.n, 0)
			+ row_number() OVER (PARTITION BY q.owner, q.reserved ORDER BY q.queued_at, q.id) AS turn
		FROM queue q LEFT JOIN live l USING (owner)
	)`
}

// claimQueuedTx moves up to n queued bots, in fair order (fairQueueSQL), to
// DEPLOYING on platform with a new attempt: those reserved there, or those
// reserved nowhere (queued by queuedBy, unless it is zero).
func (s *Store) claimQueuedTx(ctx context.Context, tx pgx.Tx, platform string, reserved bool, n int, now, queuedBy time.Time) ([]uuid.UUID, error) {
	if n <= 0 {
		return nil, nil
	}
	var by *time.Time
	if !queuedBy.IsZero() {
		by = &queuedBy
	}
	where := `desired = 'RUNNING' AND CASE WHEN $2 THEN reserved_platform = $1 ELSE reserved_platform IS NULL END
		AND ($5::timestamptz IS NULL OR queued_at <= $5)`
	rows, _ := tx.Query(ctx, fairQueueSQL(where)+`, picked AS (
			SELECT b.id FROM bots b JOIN ranked r USING (id) WHERE b.status = 'QUEUED' AND b.desired = 'RUNNING'
			ORDER BY r.turn, r.queued_at, r.id LIMIT $3 FOR UPDATE OF b SKIP LOCKED)
		UPDATE bots SET status = 'DEPLOYING', platform = $1, current_attempt = current_attempt + 1,
			deploy_started_at = $4, last_heartbeat_at = NULL, next_check_at = $4, updated_at = $4,
			revision = revision + 1
		WHERE id IN (SELECT id FROM picked)
		RETURNING id, current_attempt`, platform, reserved, n, now, by)
	type claim struct {
		ID      uuid.UUID
		Attempt int
	}
	claims, err := pgx.CollectRows(rows, pgx.RowToStructByPos[claim])
	if err != nil {
		return nil, err
	}
	ids := make([]uuid.UUID, len(claims))
	for i, c := range claims {
		if err := insertDeployment(ctx, tx, c.ID, c.Attempt, platform, now); err != nil {
			return nil, err
		}
		if err := s.statusChangedTx(ctx, tx, c.ID, StatusDeploying, map[string]any{"platform": platform, "attempt": c.Attempt}, now); err != nil {
			return nil, err
		}
		ids[i] = c.ID
	}
	return ids, nil
}

func insertDeployment(ctx context.Context, tx pgx.Tx, id uuid.UUID, attempt int, platform string, now time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO deployments (bot_id, attempt, platform, name, state, created_at, updated_at)
		VALUES ($1, $2, $3, $4, 'PENDING', $5, $5)`, id, attempt, platform, DeploymentName(id, attempt), now)
	return err
}

// Creation is what one create call of an attempt uses: the attempt's token
// (the same on every retry, so whatever an earlier try created holds a token
// that works) and the create try (bumped only after a definite failure).
type Creation struct {
	Token string
	Try   int
}

// BeginCreate records that a workload is about to be created (CREATING),
// before the platform call. The first call stores token (its hash, and the
// token itself until the workload has surely received it); every later call
// of the same attempt returns that first token.
func (s *Store) BeginCreate(ctx context.Context, id uuid.UUID, attempt int, token string, now time.Time) (Creation, error) {
	var c Creation
	err := s.pool.QueryRow(ctx, `UPDATE deployments SET state = 'CREATING', updated_at = $5,
			pending_token = COALESCE(pending_token, $3),
			token_hash = CASE WHEN pending_token IS NULL THEN $4 ELSE token_hash END
		WHERE bot_id = $1 AND attempt = $2 AND state IN ('PENDING', 'CREATING')
		RETURNING pending_token, create_try`, id, attempt, token, HashSecret(token), now).Scan(&c.Token, &c.Try)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, ErrConflict
	}
	return c, wrap("begin create", err)
}

// MarkRunning records the created (or adopted) workload; a workload whose
// bot has reported already surely has its token, which is then dropped. Any earlier
// observation is discarded: "missing" seen before the workload existed (a
// crash between intent and create) must not make the new workload look gone.
// A create is progress: the deploy deadline runs from now.
func (s *Store) MarkRunning(ctx context.Context, id uuid.UUID, attempt int, externalID string, now time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE deployments SET state = 'RUNNING', external_id = $3, error_count = 0,
			last_error = NULL, retry_at = NULL, observed = 'pending', observed_at = $4, progress_at = $4,
			exit_code = NULL, updated_at = $4,
			pending_token = CASE WHEN EXISTS (SELECT 1 FROM bots WHERE id = $1 AND status <> 'DEPLOYING')
				THEN NULL ELSE pending_token END
		WHERE bot_id = $1 AND attempt = $2 AND state = 'CREATING'`, id, attempt, externalID, now)
	return wrap("mark running", err)
}

// RecordDeployError counts a failed create call of an attempt; the next try
// waits until retryAt.
func (s *Store) RecordDeployError(ctx context.Context, id uuid.UUID, attempt int, msg string, retryAt, now time.Time) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `UPDATE deployments SET error_count = error_count + 1, last_error = $3,
			retry_at = $4, updated_at = $5
		WHERE bot_id = $1 AND attempt = $2 RETURNING error_count`, id, attempt, msg, retryAt, now).Scan(&n)
	return n, wrap("record deploy error", err)
}

// RecordCapacityWait records that the platform refused the create for lack
// of capacity, which created nothing: it is no error, the next try waits
// until retryAt, and it is a new create try (a fresh idempotency token).
func (s *Store) RecordCapacityWait(ctx context.Context, id uuid.UUID, attempt int, msg string, retryAt, now time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE deployments SET create_try = create_try + 1, last_error = $3,
			retry_at = $4, updated_at = $5
		WHERE bot_id = $1 AND attempt = $2 AND state IN ('PENDING', 'CREATING')`, id, attempt, msg, retryAt, now)
	return wrap("record capacity wait", err)
}

// MarkStopping records that the workload is being stopped, before the call.
func (s *Store) MarkStopping(ctx context.Context, id uuid.UUID, attempt int, now time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE deployments SET state = 'STOPPING', stop_requested_at = $3, updated_at = $3
		WHERE bot_id = $1 AND attempt = $2 AND state <> 'GONE'`, id, attempt, now)
	return wrap("mark stopping", err)
}

// MarkGone records that the workload no longer exists, which frees its
// capacity, so queued bots are admitted.
func (s *Store) MarkGone(ctx context.Context, id uuid.UUID, attempt int, now time.Time) error {
	return wrap("mark gone", s.inTx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE deployments SET state = 'GONE', pending_token = NULL, updated_at = $3
			WHERE bot_id = $1 AND attempt = $2 AND state <> 'GONE'`, id, attempt, now)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		return wakeTx(ctx, tx, WakeAdmit)
	}))
}

// RetryAttempt replaces an attempt whose workload exited before the bot was
// in the call with a new one (new deployment row, new name, new token), keeping
// the bot's capacity claim. The old token stops working at once.
func (s *Store) RetryAttempt(ctx context.Context, id uuid.UUID, attempt int, now time.Time) (bool, error) {
	var retried bool
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var platform string
		var from Status
		err := tx.QueryRow(ctx, `UPDATE bots b SET current_attempt = current_attempt + 1, status = 'DEPLOYING',
				last_heartbeat_at = NULL, updated_at = $3, next_check_at = $3
			FROM (SELECT status FROM bots WHERE id = $1 FOR UPDATE) old
			WHERE b.id = $1 AND b.current_attempt = $2 AND b.status NOT IN ('DONE', 'FATAL') AND b.desired = 'RUNNING'
			RETURNING b.platform, old.status`, id, attempt, now).Scan(&platform, &from)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE deployments SET state = 'GONE', pending_token = NULL, updated_at = $3
			WHERE bot_id = $1 AND attempt = $2`, id, attempt, now); err != nil {
			return err
		}
		if err := insertDeployment(ctx, tx, id, attempt+1, platform, now); err != nil {
			return err
		}
		retried = true
		if err := addEvent(ctx, tx, id, "RESTARTING", map[string]any{"attempt": attempt + 1}, now); err != nil || from == StatusDeploying {
			return err
		}
		return s.statusChangedTx(ctx, tx, id, StatusDeploying, map[string]any{"platform": platform, "attempt": attempt + 1}, now)
	})
	return retried, wrap("retry attempt", err)
}

// SetNextCheck sets when the periodic resync must reconcile the bot again
// (nil: never, until something changes); a time it already has is not
// written again.
func (s *Store) SetNextCheck(ctx context.Context, id uuid.UUID, at *time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE bots SET next_check_at = $2 WHERE id = $1 AND next_check_at IS DISTINCT FROM $2`, id, at)
	return wrap("set next check", err)
}

// JobRun is one run of a River job: a job fetched again (after a replica
// died) is another run, with another attempt.
type JobRun struct {
	ID      int64
	Attempt int
}

// Settle is how a reconcile that ends closes its job.
type Settle struct {
	Bot uuid.UUID
	// Revision is the bot's revision read with the state the reconcile's
	// last decision was made on.
	Revision int64
	Job      JobRun
	// MoveNext moves the bot's next check from NextCheck (as read at
	// Revision) to Next, in the same statement.
	MoveNext        bool
	NextCheck, Next *time.Time
}

// settleDone completes the job's run ($3, $4) when the fence CTE (one row,
// or none when the bot is gone or, moving the next check, when the fence
// failed) says unchanged, and reports the fence and whether the run was the
// job's current one.
const settleDone = `, done AS (
		UPDATE river_job SET state = 'completed', finalized_at = now()
		WHERE id = $3 AND attempt = $4 AND state = 'running' AND (SELECT unchanged FROM fence)
	)
	SELECT (SELECT unchanged FROM fence), EXISTS (SELECT FROM river_job WHERE id = $3 AND attempt = $4 AND state = 'running')`

// SettleReconcile closes a reconcile without losing a wake-up, in one
// statement (one round trip, no transaction): if the bot's revision is
// still s.Revision, it completes the job's run (and moves the next check);
// otherwise it changes nothing and reports changed, and the reconcile must
// run again. An event that arrived during the reconcile had its job skipped
// as a duplicate of the running one; it bumped revision first, in the
// transaction that tried to enqueue. The statement locks the bot row before
// it touches the job, as those writers do (bots, then river_job), so either
// such a writer committed first and the revision differs, or it waits for
// this statement and then finds the job completed and enqueues a new one.
//
// When nothing moved, the job's own completion is the only write (River's
// completer then finds it done already). A run that is no longer the job's
// current one (the job was requeued from a replica that lost its session,
// and fetched again) changes nothing and reports no change: the current run
// settles the job.
func (s *Store) SettleReconcile(ctx context.Context, st Settle) (changed bool, err error) {
	var unchanged *bool
	var current bool
	if !st.MoveNext {
		err = s.pool.QueryRow(ctx, `WITH fence AS (
				SELECT revision = $2 AS unchanged FROM bots WHERE id = $1 FOR SHARE
			)`+settleDone, st.Bot, st.Revision, st.Job.ID, st.Job.Attempt).Scan(&unchanged, &current)
		// No row: the bot is gone, and there is nothing to run again for.
		return current && unchanged != nil && !*unchanged, wrap("settle reconcile", err)
	}
	// A reconcile that only waits may move the next check without the
	// bot's lock: the move applies only if neither the revision nor the
	// next check changed since they were read (a compare-and-set: another
	// reconcile's writes move one or the other), and only for the job's
	// current run.
	err = s.pool.QueryRow(ctx, `WITH fence AS (
			UPDATE bots SET next_check_at = $6
			WHERE id = $1 AND revision = $2 AND next_check_at IS NOT DISTINCT FROM $5
			  AND EXISTS (SELECT FROM river_job WHERE id = $3 AND attempt = $4 AND state = 'running')
			RETURNING true AS unchanged
		)`+settleDone, st.Bot, st.Revision, st.Job.ID, st.Job.Attempt, st.NextCheck, st.Next).Scan(&unchanged, &current)
	return current && unchanged == nil, wrap("settle reconcile", err)
}

// EnqueueDue enqueues a reconcile for every bot whose next check is due: the
// level-triggered backstop that the leader runs periodically.
func (s *Store) EnqueueDue(ctx context.Context, now time.Time, limit int) (int, error) {
	var n int
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT id FROM bots WHERE next_check_at <= $1 ORDER BY next_check_at LIMIT $2`, now, limit)
		ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil || len(ids) == 0 {
			return err
		}
		n = len(ids)
		return s.enq.EnqueueReconcileTx(ctx, tx, ids...)
	})
	return n, wrap("enqueue due", err)
}

// NextScheduledCheck is the earliest check after now of a SCHEDULED bot
// (its admission time; false: none).
func (s *Store) NextScheduledCheck(ctx context.Context, now time.Time) (time.Time, bool, error) {
	var at *time.Time
	err := s.pool.QueryRow(ctx, `SELECT min(next_check_at) FROM bots WHERE next_check_at > $1 AND status = 'SCHEDULED'`,
		now).Scan(&at)
	if err != nil || at == nil {
		return time.Time{}, false, wrap("next check", err)
	}
	return *at, true, nil
}

// LiveDeployments returns the deployments on platform that may have a
// workload, for observers and GC.
func (s *Store) LiveDeployments(ctx context.Context, platform string) ([]Deployment, error) {
	rows, _ := s.pool.Query(ctx, `SELECT * FROM deployments WHERE platform = $1 AND state <> 'GONE'`, platform)
	ds, err := pgx.CollectRows(rows, pgx.RowToStructByName[Deployment])
	return ds, wrap("live deployments", err)
}

// ObservedDeployment is a live deployment with its bot's last heartbeat
// from this very attempt (nil when the attempt's bot has not beaten, or the
// bot has moved on to another attempt).
type ObservedDeployment struct {
	Deployment
	LastHeartbeatAt *time.Time `db:"last_heartbeat_at"`
}

// ObservedDeployments is LiveDeployments with each bot's last heartbeat, for
// an observer that reads only the workloads whose bots went quiet.
func (s *Store) ObservedDeployments(ctx context.Context, platform string) ([]ObservedDeployment, error) {
	rows, _ := s.pool.Query(ctx, `SELECT d.*, CASE WHEN b.current_attempt = d.attempt THEN b.last_heartbeat_at END AS last_heartbeat_at
		FROM deployments d JOIN bots b ON b.id = d.bot_id
		WHERE d.platform = $1 AND d.state <> 'GONE'`, platform)
	ds, err := pgx.CollectRows(rows, pgx.RowToStructByName[ObservedDeployment])
	return ds, wrap("observed deployments", err)
}

// Observation is what an observer saw of one deployment's workload.
type Observation struct {
	Observed string
	ExitCode *int
	// Progress means the platform reports the workload progressing towards
	// running (pending, starting): the deploy deadline is extended.
	Progress bool
	// Code is the platform's stable reason (oom_killed, image_pull_failed,
	// …): a change that has one adds a "workload.observed" event to the
	// bot's timeline, where it outlives the platform's own records.
	Code string
}

// EventWorkloadObserved is the timeline event of an observation with a
// platform's reason code.
const EventWorkloadObserved = "workload.observed"

// RecordObservation writes what an observer saw of deployment d's workload.
// A change is written (observed_at is the time of the change) and wakes the
// bot's reconciler. Progress refreshes progress_at, without waking anyone,
// once the last refresh is older than refresh: the deploy deadline moves
// while the platform keeps reporting progress, at one write per refresh
// period. An exited workload stays exited: an attempt whose container ended
// (or restarted) never comes back. An observation made against a row that
// changed since it was read (e.g. the workload was just created) is dropped:
// the next observation will see the new row.
//
// An observation that would change nothing in d as read returns at once,
// with no transaction and no round trip: most passes see nothing new. That
// is the UPDATE's own condition, checked on the row the observer read in
// this pass; a row changed since then would be dropped by the UPDATE
// anyway (its updated_at moved), and the next pass reads it afresh.
func (s *Store) RecordObservation(ctx context.Context, d Deployment, o Observation, refresh time.Duration, now time.Time) (bool, error) {
	if !observationChanges(d, o, refresh, now) {
		return false, nil
	}
	changed := false
	id := d.BotID
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		// The bot row first, as every other writer of both (a status report)
		// locks them: the other order deadlocks under load.
		if o.Observed != deref(d.Observed) || !sameInt(o.ExitCode, d.ExitCode) {
			if _, err := tx.Exec(ctx, `SELECT 1 FROM bots WHERE id = $1 FOR UPDATE`, id); err != nil {
				return err
			}
		}
		err := tx.QueryRow(ctx, `UPDATE deployments SET observed = $3, exit_code = $4,
				observed_at = CASE WHEN observed IS DISTINCT FROM $3 OR exit_code IS DISTINCT FROM $4 THEN $5 ELSE observed_at END,
				progress_at = CASE WHEN $7 THEN $5 ELSE progress_at END
			WHERE bot_id = $1 AND attempt = $2 AND state <> 'GONE' AND updated_at = $6
			  AND observed IS DISTINCT FROM 'exited'
			  AND (observed IS DISTINCT FROM $3 OR exit_code IS DISTINCT FROM $4
			       OR ($7 AND (progress_at IS NULL OR progress_at <= $5::timestamptz - $8::interval)))
			RETURNING observed_at = $5`, id, d.Attempt, o.Observed, o.ExitCode, now, d.UpdatedAt, o.Progress, refresh).Scan(&changed)
		if errors.Is(err, pgx.ErrNoRows) || err != nil || !changed {
			return ignoreNoRows(err)
		}
		if _, err := tx.Exec(ctx, `UPDATE bots SET revision = revision + 1, next_check_at = $2 WHERE id = $1`, id, now); err != nil {
			return err
		}
		if o.Code != "" {
			if err := addEvent(ctx, tx, id, EventWorkloadObserved, map[string]any{"attempt": d.Attempt, "platform": d.Platform,
				"observed": o.Observed, "exit_code": o.ExitCode, "reason": o.Code}, now); err != nil {
				return err
			}
		}
		return s.enq.EnqueueReconcileTx(ctx, tx, id)
	})
	return changed, wrap("record observation", err)
}

// observationChanges is RecordObservation's UPDATE condition evaluated on
// d: keep the two in step.
func observationChanges(d Deployment, o Observation, refresh time.Duration, now time.Time) bool {
	switch {
	case !d.Live() || (d.Observed != nil && *d.Observed == ObservedExited):
		return false
	case d.Observed == nil || *d.Observed != o.Observed || !sameInt(o.ExitCode, d.ExitCode):
		return true
	}
	return o.Progress && (d.ProgressAt == nil || !d.ProgressAt.After(now.Add(-refresh)))
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func sameInt(a, b *int) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func ignoreNoRows(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	return err
}

// BotRevision returns a bot's revision; found is false when it does not exist.
func (s *Store) BotRevision(ctx context.Context, id uuid.UUID) (int64, bool, error) {
	var rev int64
	err := s.pool.QueryRow(ctx, `SELECT revision FROM bots WHERE id = $1`, id).Scan(&rev)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	return rev, err == nil, wrap("bot revision", err)
}

// PlatformLimit is one platform's bot limit, in priority order.
type PlatformLimit struct {
	Platform string
	Limit    int
	// Lifetime is how long a bot may run once deployed: how far ahead a bot
	// admitted now may hold capacity a reservation was promised.
	Lifetime time.Duration
	// QueuedBy, when set, admits only unreserved bots queued by then: an
	// admission pass gives the platforms after the first in priority only
	// bots the first ones have surely seen, so a bot created mid-pass waits
	// for the next pass instead of landing on a fallback platform while the
	// first has room.
	QueuedBy time.Time
}

// MoveAttempt moves an attempt that found no capacity on its platform (and
// created nothing there) to the first other platform with room, counted from
// rows under that platform's admission lock, as Admit does. It reports the
// platform it moved to, or "" when none has room.
func (s *Store) MoveAttempt(ctx context.Context, id uuid.UUID, attempt int, candidates []PlatformLimit, now time.Time) (string, error) {
	moved := ""
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var from string
		// Bot, then deployment: the order every writer of both locks them in.
		err := tx.QueryRow(ctx, `SELECT d.platform FROM bots b JOIN deployments d ON d.bot_id = b.id
			WHERE b.id = $1 AND d.attempt = $2 AND d.state IN ('PENDING', 'CREATING') FOR UPDATE OF b, d`, id, attempt).Scan(&from)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, c := range candidates {
			if c.Platform == from {
				continue
			}
			if err := lockPlatformTx(ctx, tx, c.Platform); err != nil {
				return err
			}
			used, err := liveOnTx(ctx, tx, c.Platform)
			if err != nil {
				return err
			}
			if room, err := unreservedRoomTx(ctx, tx, c, used, now); err != nil || room == 0 {
				if err != nil {
					return err
				}
				continue
			}
			if _, err := tx.Exec(ctx, `UPDATE deployments SET platform = $3, state = 'PENDING', create_try = create_try + 1,
					retry_at = NULL, moved_at = $4, updated_at = $4
				WHERE bot_id = $1 AND attempt = $2`, id, attempt, c.Platform, now); err != nil {
				return err
			}
			// Capacity reserved on the platform it leaves is given back.
			if _, err := tx.Exec(ctx, `UPDATE bots SET platform = $2, updated_at = $3,
					reserved_platform = NULL, reserved_from = NULL, reserved_until = NULL WHERE id = $1`, id, c.Platform, now); err != nil {
				return err
			}
			moved = c.Platform
			return addEvent(ctx, tx, id, "PLATFORM_FALLBACK", map[string]any{"from": from, "to": c.Platform, "reason": "capacity"}, now)
		}
		return nil
	})
	return moved, wrap("move attempt", err)
}

// PlatformsUsage counts live deployments per platform and the queue.
func (s *Store) PlatformsUsage(ctx context.Context) (map[string]int, int, error) {
	used := map[string]int{}
	rows, _ := s.pool.Query(ctx, `SELECT platform, count(*) FROM deployments WHERE state <> 'GONE' GROUP BY 1`)
	var p string
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&p, &n}, func() error { used[p] = n; return nil }); err != nil {
		return nil, 0, wrap("platforms usage", err)
	}
	var queued int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM bots WHERE status = 'QUEUED'`).Scan(&queued)
	return used, queued, wrap("platforms usage", err)
}

// ReadyDurations returns the create-to-ready durations (deployment created
// to the bot's first report) of a platform's most recent attempts of one
// start kind (warm: an idle pool slot reused), most recent first.
func (s *Store) ReadyDurations(ctx context.Context, platform string, warm bool, limit int) ([]time.Duration, error) {
	rows, _ := s.pool.Query(ctx, `SELECT ready_at - created_at FROM deployments
		WHERE platform = $1 AND warm = $2 AND ready_at IS NOT NULL ORDER BY ready_at DESC LIMIT $3`, platform, warm, limit)
	ds, err := pgx.CollectRows(rows, pgx.RowTo[time.Duration])
	return ds, wrap("ready durations", err)
}
