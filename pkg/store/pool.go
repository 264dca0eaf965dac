package store

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// SlotState is the controller's record of a Coolify pool slot.
type SlotState string

// Slot states.
const (
	SlotCreating SlotState = "CREATING" // name reserved; the application may not exist yet
	SlotIdle     SlotState = "IDLE"     // application exists, container stopped, image warm
	SlotStarting SlotState = "STARTING" // assigned; start requested or waiting for a start slot
	SlotBusy     SlotState = "BUSY"     // assigned; container running
	SlotStopping SlotState = "STOPPING" // released; stop requested, waiting to be observed exited
	SlotError    SlotState = "ERROR"    // something failed; retried, then deleted
	SlotDeleting SlotState = "DELETING" // application being deleted; the row goes when it is gone
)

// PoolSlot is one row of pool_slots.
type PoolSlot struct {
	ID                 int64      `db:"id"`
	MeetingPlatform    string     `db:"meeting_platform"`
	Number             int        `db:"number"`
	Name               string     `db:"name"`
	SpecHash           string     `db:"spec_hash"`
	AppUUID            *string    `db:"app_uuid"`
	State              SlotState  `db:"state"`
	AssignedDeployment *string    `db:"assigned_deployment"`
	SlotTokenHash      []byte     `db:"slot_token_hash"`
	Observed           *string    `db:"observed"`
	ObservedAt         *time.Time `db:"observed_at"`
	StartRequestedAt   *time.Time `db:"start_requested_at"`
	// StartUnknown: the start's answer was lost; it may have happened.
	StartUnknown    bool       `db:"start_unknown"`
	StopRequestedAt *time.Time `db:"stop_requested_at"`
	LastUsedAt      *time.Time `db:"last_used_at"`
	ErrorCount      int        `db:"error_count"`
	LastError       *string    `db:"last_error"`
	CreatedAt       time.Time  `db:"created_at"`
	UpdatedAt       time.Time  `db:"updated_at"`
}

// ErrNoSlot means the meeting platform's pool is at its maximum and no slot
// is idle.
var ErrNoSlot = errors.New("store: no pool slot available")

// SlotName is the reserved name of slot number n of a meeting platform.
func SlotName(meetingPlatform string, n int) string {
	return fmt.Sprintf("pool-%s-%03d", meetingPlatform, n)
}

// ClaimSlot gives a deployment a slot of its meeting platform and spec: the
// one it already holds (a retried claim after a crash), an idle one (oldest
// used first, FOR UPDATE SKIP LOCKED), a reserved one not yet created, or a
// newly reserved one while the platform has fewer than maxSlots.
func (s *Store) ClaimSlot(ctx context.Context, deployment, meetingPlatform, specHash string, maxSlots int, now time.Time) (PoolSlot, error) {
	var slot PoolSlot
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		slot, err = claimSlotTx(ctx, tx, deployment, meetingPlatform, specHash, maxSlots, now)
		return err
	})
	return slot, err
}

func claimSlotTx(ctx context.Context, tx pgx.Tx, deployment, meetingPlatform, specHash string, maxSlots int, now time.Time) (PoolSlot, error) {
	rows, _ := tx.Query(ctx, `SELECT * FROM pool_slots WHERE assigned_deployment = $1`, deployment)
	if slot, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[PoolSlot]); !errors.Is(err, pgx.ErrNoRows) {
		return slot, err
	}
	// A hot slot (idle, its container seen running and asking for work) is
	// busy at once: its container picks the assignment up at its next ask.
	// One whose hot start is under way is next best: it keeps its start,
	// and its container finds the assignment at its first ask. Then a
	// stopped idle slot (a start through the concurrency cap), then one
	// still being created.
	rows, _ = tx.Query(ctx, `UPDATE pool_slots SET assigned_deployment = $1, last_used_at = $4, updated_at = $4,
			state = CASE WHEN state = 'IDLE' AND observed LIKE 'running%' THEN 'BUSY'
				WHEN state = 'IDLE' THEN 'STARTING' ELSE state END,
			start_requested_at = CASE WHEN state = 'STARTING' THEN start_requested_at END,
			start_unknown = state = 'STARTING' AND start_unknown, stop_requested_at = NULL
		WHERE id = (SELECT id FROM pool_slots
			WHERE meeting_platform = $2 AND spec_hash = $3 AND assigned_deployment IS NULL
			  AND state IN ('IDLE', 'STARTING', 'CREATING')
			ORDER BY CASE WHEN state = 'IDLE' AND observed LIKE 'running%' THEN 0
				WHEN state = 'STARTING' THEN 1 WHEN state = 'IDLE' THEN 2 ELSE 3 END,
			  last_used_at NULLS FIRST, id
			LIMIT 1 FOR UPDATE SKIP LOCKED)
		RETURNING *`, deployment, meetingPlatform, specHash, now)
	if slot, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[PoolSlot]); !errors.Is(err, pgx.ErrNoRows) {
		if err == nil && slot.State != SlotCreating {
			// It was IDLE: an existing application, image pulled — a warm start.
			_, err = tx.Exec(ctx, `UPDATE deployments SET warm = true WHERE name = $1`, deployment)
		}
		return slot, err
	}
	return reserveSlotTx(ctx, tx, &deployment, meetingPlatform, specHash, maxSlots, now)
}

// reserveSlotTx reserves the lowest free slot number of a meeting platform,
// under a per-platform advisory lock so concurrent claims get distinct names.
func reserveSlotTx(ctx context.Context, tx pgx.Tx, deployment *string, meetingPlatform, specHash string, maxSlots int, now time.Time) (PoolSlot, error) {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('meeboter-pool:' || $1, 0))`, meetingPlatform); err != nil {
		return PoolSlot{}, err
	}
	var n *int
	if err := tx.QueryRow(ctx, `SELECT min(n) FROM generate_series(1, $2::int) AS n
		WHERE n NOT IN (SELECT number FROM pool_slots WHERE meeting_platform = $1)`, meetingPlatform, maxSlots).Scan(&n); err != nil {
		return PoolSlot{}, err
	}
	if n == nil {
		return PoolSlot{}, ErrNoSlot
	}
	rows, _ := tx.Query(ctx, `INSERT INTO pool_slots (meeting_platform, number, name, spec_hash, state, assigned_deployment,
			last_used_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, 'CREATING', $5, $6, $6, $6) RETURNING *`,
		meetingPlatform, *n, SlotName(meetingPlatform, *n), specHash, deployment, now)
	return pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[PoolSlot])
}

// ReserveIdleSlots reserves unassigned slots until the meeting platform has
// minIdle slots that are idle or being created for nobody, within maxSlots.
// It returns how many it reserved.
//
// A pool with its spare slots costs one read, no transaction: the count is
// taken again in the transaction only when slots are missing.
func (s *Store) ReserveIdleSlots(ctx context.Context, meetingPlatform, specHash string, minIdle, maxSlots int, now time.Time) (int, error) {
	spare, err := spareSlots(ctx, s.pool, meetingPlatform)
	if err != nil || spare >= minIdle {
		return 0, wrap("reserve idle slots", err)
	}
	reserved := 0
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		spare, err := spareSlots(ctx, tx, meetingPlatform)
		if err != nil {
			return err
		}
		for ; spare+reserved < minIdle; reserved++ {
			if _, err := reserveSlotTx(ctx, tx, nil, meetingPlatform, specHash, maxSlots, now); err != nil {
				if errors.Is(err, ErrNoSlot) {
					return nil
				}
				return err
			}
		}
		return nil
	})
	return reserved, wrap("reserve idle slots", err)
}

// spareSlots counts a meeting platform's slots that are for nobody. Idle
// slots of an older spec count: they converge in place; so do hot slots
// starting or going back to idle.
func spareSlots(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, meetingPlatform string) (int, error) {
	var spare int
	err := q.QueryRow(ctx, `SELECT count(*) FROM pool_slots WHERE meeting_platform = $1
		AND assigned_deployment IS NULL AND state IN ('IDLE', 'CREATING', 'STARTING', 'STOPPING')`, meetingPlatform).Scan(&spare)
	return spare, err
}

// PoolDemand is, per meeting platform, how many bots will want a slot of
// platform soon: bots not admitted yet whose join_at is before until and
// whose capacity is reserved there (or reserved nowhere, with unreserved),
// and admitted attempts there still waiting for a slot.
func (s *Store) PoolDemand(ctx context.Context, platform string, unreserved bool, until time.Time) (map[string]int, error) {
	rows, _ := s.pool.Query(ctx, `SELECT meeting_platform, count(*) FROM (
			SELECT meeting_platform FROM bots WHERE status IN ('SCHEDULED', 'QUEUED') AND desired = 'RUNNING'
			  AND join_at <= $3 AND (reserved_platform = $1 OR ($2 AND reserved_platform IS NULL))
			UNION ALL
			SELECT b.meeting_platform FROM deployments d JOIN bots b ON b.id = d.bot_id
			WHERE d.platform = $1 AND d.state IN ('PENDING', 'CREATING')
			  AND NOT EXISTS (SELECT 1 FROM pool_slots s WHERE s.assigned_deployment = d.name)) wanted
		GROUP BY 1`, platform, unreserved, until)
	demand := map[string]int{}
	var mp string
	var n int
	_, err := pgx.ForEachRow(rows, []any{&mp, &n}, func() error { demand[mp] = n; return nil })
	return demand, wrap("pool demand", err)
}

// SlotOf returns the slot a deployment holds.
func (s *Store) SlotOf(ctx context.Context, deployment string) (PoolSlot, bool, error) {
	rows, _ := s.pool.Query(ctx, `SELECT * FROM pool_slots WHERE assigned_deployment = $1`, deployment)
	slot, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[PoolSlot])
	if errors.Is(err, pgx.ErrNoRows) {
		return slot, false, nil
	}
	return slot, err == nil, wrap("slot of", err)
}

// AssignedSlots returns every slot that holds a deployment.
func (s *Store) AssignedSlots(ctx context.Context) ([]PoolSlot, error) {
	rows, _ := s.pool.Query(ctx, `SELECT * FROM pool_slots WHERE assigned_deployment IS NOT NULL ORDER BY id`)
	slots, err := pgx.CollectRows(rows, pgx.RowToStructByName[PoolSlot])
	return slots, wrap("assigned slots", err)
}

// ReleaseSlot takes a slot back from a deployment: a slot whose container
// may run is stopped (STOPPING); one that was never started goes back to
// the pool at once.
func (s *Store) ReleaseSlot(ctx context.Context, deployment string, now time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE pool_slots SET updated_at = $2, last_used_at = $2,
			state = CASE WHEN state IN ('STARTING', 'BUSY') THEN 'STOPPING' ELSE state END,
			assigned_deployment = CASE WHEN state IN ('STARTING', 'BUSY', 'STOPPING') THEN assigned_deployment ELSE NULL END,
			stop_requested_at = NULL
		WHERE assigned_deployment = $1 AND state <> 'STOPPING'`, deployment, now)
	return wrap("release slot", err)
}

// Slots returns every slot, for the pool controller.
func (s *Store) Slots(ctx context.Context) ([]PoolSlot, error) {
	rows, _ := s.pool.Query(ctx, `SELECT * FROM pool_slots ORDER BY meeting_platform, number`)
	slots, err := pgx.CollectRows(rows, pgx.RowToStructByName[PoolSlot])
	return slots, wrap("slots", err)
}

// SlotUpdate is a conditional change of one slot: it applies only while the
// slot is in state From (and still has the same assignment), so the pool
// controller never overwrites a concurrent claim or release.
type SlotUpdate struct {
	ID   int64
	From SlotState
	// Assigned must match the slot's assignment (nil: unassigned).
	Assigned *string

	To             SlotState
	AppUUID        *string
	TokenHash      []byte
	SpecHash       *string
	StartRequested bool
	// ClearStartRequested forgets a start request (it did not happen).
	ClearStartRequested bool
	// StartUnknown, when set, records whether the start's outcome is unknown.
	StartUnknown    *bool
	StopRequested   bool
	ClearAssignment bool
	Error           *string // non-nil: error_count+1 and last_error
	ResetErrors     bool
	Observed        *string
}

// UpdateSlot applies u; it reports false when the slot moved meanwhile.
func (s *Store) UpdateSlot(ctx context.Context, u SlotUpdate, now time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE pool_slots SET state = $4, updated_at = $5,
			app_uuid = COALESCE($6, app_uuid),
			slot_token_hash = COALESCE($7, slot_token_hash),
			spec_hash = COALESCE($8, spec_hash),
			start_requested_at = CASE WHEN $15 THEN NULL WHEN $9 THEN $5 WHEN $4 <> state THEN NULL ELSE start_requested_at END,
			start_unknown = COALESCE($16, CASE WHEN $4 <> state OR $15 THEN false ELSE start_unknown END),
			stop_requested_at = CASE WHEN $10 THEN $5 WHEN $4 <> state THEN NULL ELSE stop_requested_at END,
			assigned_deployment = CASE WHEN $11 THEN NULL ELSE assigned_deployment END,
			last_used_at = CASE WHEN $11 THEN $5 ELSE last_used_at END,
			error_count = CASE WHEN $12::text IS NOT NULL THEN error_count + 1 WHEN $13 THEN 0 ELSE error_count END,
			last_error = COALESCE($12, CASE WHEN $13 THEN NULL ELSE last_error END),
			observed = COALESCE($14, observed),
			observed_at = CASE WHEN $14::text IS NOT NULL THEN $5 ELSE observed_at END
		WHERE id = $1 AND state = $2 AND assigned_deployment IS NOT DISTINCT FROM $3`,
		u.ID, u.From, u.Assigned, u.To, now, u.AppUUID, u.TokenHash, u.SpecHash, u.StartRequested, u.StopRequested,
		u.ClearAssignment, u.Error, u.ResetErrors, u.Observed, u.ClearStartRequested, u.StartUnknown)
	if err != nil {
		return false, wrap("update slot", err)
	}
	return tag.RowsAffected() == 1, nil
}

// RecordSlotObservation writes the application status seen in the bulk list
// taken at now (observed_at is the time of the change); an observation
// newer than the list (a container's ask) is kept.
func (s *Store) RecordSlotObservation(ctx context.Context, id int64, observed string, now time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE pool_slots SET observed = $2, observed_at = $3
		WHERE id = $1 AND observed IS DISTINCT FROM $2 AND (observed_at IS NULL OR observed_at <= $3)`, id, observed, now)
	return wrap("record slot observation", err)
}

// DeleteSlot removes a slot whose application is gone; its number is free again.
func (s *Store) DeleteSlot(ctx context.Context, id int64) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM pool_slots WHERE id = $1 AND state = 'DELETING'`, id)
	return wrap("delete slot", err)
}

// StartsInFlight counts slots whose start was requested and not yet seen
// running: the Coolify deploy concurrency, counted in the database so
// replicas agree.
func (s *Store) StartsInFlight(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM pool_slots WHERE state = 'STARTING' AND start_requested_at IS NOT NULL`).Scan(&n)
	return n, wrap("starts in flight", err)
}

// Assignment is what a slot container asking for work gets.
type Assignment struct {
	Auth BotAuth
	// Token is the attempt's bot token: the same on every ask until the bot
	// first reports a status, so an answer lost on the way is asked again.
	Token string
	// Found is false when the slot has nothing to run.
	Found bool
	// Restarted means the container asked again after its meeting had
	// begun: it started again, and the attempt was ended.
	Restarted bool
}

// SlotAssignment answers a slot container asking what to run. A slot token
// proves the container is that slot; when the slot holds the live current
// attempt of a running bot, the attempt and its token are returned.
// Otherwise the slot has nothing to run: a restarted container of a finished
// bot never gets its meeting back, and one that asks after its bot began the
// meeting has restarted mid-meeting, which ends the attempt (see
// attemptRestartedTx). newToken becomes the attempt's token if it has none
// (an attempt created before tokens were kept).
func (s *Store) SlotAssignment(ctx context.Context, appUUID, slotToken, newToken string, now time.Time) (Assignment, error) {
	var a Assignment
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var hash []byte
		var state SlotState
		err := tx.QueryRow(ctx, `SELECT slot_token_hash, state FROM pool_slots WHERE app_uuid = $1`, appUUID).Scan(&hash, &state)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && subtle.ConstantTimeCompare(hash, HashSecret(slotToken)) != 1) {
			return ErrUnauthenticated
		}
		if err != nil {
			return err
		}
		if state == SlotStarting {
			// The container asking proves its start finished: seen running
			// now (health unknown), for the pool to record at once, freeing
			// its place under the concurrency cap, instead of at its next
			// list.
			if _, err := tx.Exec(ctx, `UPDATE pool_slots SET observed = 'running:unknown', observed_at = $2
				WHERE app_uuid = $1 AND (observed IS NULL OR observed NOT LIKE 'running%')`, appUUID, now); err != nil {
				return err
			}
			if err := wakeTx(ctx, tx, WakePool); err != nil {
				return err
			}
		}
		type botToken struct {
			Bot
			PendingToken *string `db:"pending_token"`
		}
		rows, _ := tx.Query(ctx, `SELECT b.*, d.pending_token FROM pool_slots s
			JOIN deployments d ON d.name = s.assigned_deployment
			JOIN bots b ON b.id = d.bot_id AND b.current_attempt = d.attempt
			WHERE s.app_uuid = $1 AND s.state IN ('STARTING', 'BUSY') AND d.state <> 'GONE'
			  AND b.status NOT IN ('DONE', 'FATAL')
			FOR UPDATE OF b`, appUUID)
		bt, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[botToken])
		bot, token := bt.Bot, bt.PendingToken
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		a.Auth = BotAuth{BotID: bot.ID, Attempt: bot.CurrentAttempt}
		if bot.Status.Running() {
			a.Restarted = true
			return s.attemptRestartedTx(ctx, tx, bot, now)
		}
		if bot.Desired == DesiredStopped {
			return nil // stopped before it started: nothing to run
		}
		if token == nil {
			if _, err := tx.Exec(ctx, `UPDATE deployments SET pending_token = $3, token_hash = $4
				WHERE bot_id = $1 AND attempt = $2`, bot.ID, bot.CurrentAttempt, newToken, HashSecret(newToken)); err != nil {
				return err
			}
			token = &newToken
		}
		a.Token, a.Found = *token, true
		return nil
	})
	return a, wrap("slot assignment", err)
}

// PoolStats is one meeting platform's pool.
type PoolStats struct {
	MeetingPlatform string
	Slots           map[SlotState]int
	QueueLength     int
	OldestQueuedAt  *time.Time
}

// PoolStats returns slots by state and the queue of every meeting platform:
// bots QUEUED, plus bots deploying on Coolify that wait for a slot.
func (s *Store) PoolStats(ctx context.Context, platform string) ([]PoolStats, error) {
	stats := map[string]*PoolStats{}
	get := func(mp string) *PoolStats {
		if stats[mp] == nil {
			stats[mp] = &PoolStats{MeetingPlatform: mp, Slots: map[SlotState]int{}}
		}
		return stats[mp]
	}
	rows, _ := s.pool.Query(ctx, `SELECT meeting_platform, state, count(*) FROM pool_slots GROUP BY 1, 2`)
	var mp string
	var state SlotState
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&mp, &state, &n}, func() error { get(mp).Slots[state] = n; return nil }); err != nil {
		return nil, wrap("pool stats", err)
	}
	var oldest *time.Time
	rows, _ = s.pool.Query(ctx, `SELECT b.meeting_platform, count(*), min(b.queued_at) FROM bots b
		WHERE b.status = 'QUEUED' OR (b.status = 'DEPLOYING' AND b.platform = $1 AND NOT EXISTS (
			SELECT 1 FROM deployments d JOIN pool_slots s ON s.assigned_deployment = d.name
			WHERE d.bot_id = b.id AND d.attempt = b.current_attempt))
		GROUP BY 1`, platform)
	if _, err := pgx.ForEachRow(rows, []any{&mp, &n, &oldest}, func() error {
		st := get(mp)
		st.QueueLength, st.OldestQueuedAt = n, oldest
		return nil
	}); err != nil {
		return nil, wrap("pool stats", err)
	}
	out := make([]PoolStats, 0, len(stats))
	for _, st := range stats {
		out = append(out, *st)
	}
	return out, nil
}
