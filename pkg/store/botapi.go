package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// BotAuth is what a valid bot token proves: one attempt of one bot.
type BotAuth struct {
	BotID   uuid.UUID
	Attempt int
	// Status and Deployment are the bot's status and the attempt's
	// deployment state when the token was checked: what Fenced decides by.
	Status     Status
	Deployment DeploymentState
}

// AuthenticateBot checks a bot token against the bot id the caller claims.
// An unknown token is ErrUnauthenticated, another bot's id ErrForbidden, and a
// token of an attempt that is no longer current ErrStaleAttempt. A current
// attempt whose bot ended is still authenticated: see BotAuth.Fenced.
func (s *Store) AuthenticateBot(ctx context.Context, token string, botID uuid.UUID) (BotAuth, error) {
	var auth BotAuth
	var current int
	err := s.pool.QueryRow(ctx, `SELECT d.bot_id, d.attempt, b.current_attempt, b.status, d.state
		FROM deployments d JOIN bots b ON b.id = d.bot_id WHERE d.token_hash = $1`,
		HashSecret(token)).Scan(&auth.BotID, &auth.Attempt, &current, &auth.Status, &auth.Deployment)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return auth, ErrUnauthenticated
	case err != nil:
		return auth, wrap("authenticate bot", err)
	case auth.BotID != botID:
		return auth, ErrForbidden
	case auth.Attempt != current:
		return auth, ErrStaleAttempt
	}
	return auth, nil
}

// BotForAttempt returns the bot an authenticated attempt belongs to.
func (s *Store) BotForAttempt(ctx context.Context, auth BotAuth) (Bot, error) {
	rows, _ := s.pool.Query(ctx, `SELECT * FROM bots WHERE id = $1`, auth.BotID)
	bot, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Bot])
	return bot, notFound(err)
}

// FetchConfig returns the bot of an attempt whose container asks for its
// configuration. A container asks once, when it starts: one that asks after
// its bot began the meeting has started again (Docker's restart policy after
// a crash), and its meeting session is gone, so the attempt is ended
// (restarted=true; see attemptRestartedTx) and the container told to exit.
func (s *Store) FetchConfig(ctx context.Context, auth BotAuth, now time.Time) (Bot, bool, error) {
	var bot Bot
	restarted := false
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if bot, err = lockAttemptBotTx(ctx, tx, auth); err != nil || !bot.Status.Running() {
			return err
		}
		restarted = true
		return s.attemptRestartedTx(ctx, tx, bot, now)
	})
	return bot, restarted, wrap("fetch config", err)
}

// attemptRestartedTx ends the current attempt of a bot whose container
// started again after the bot had begun its meeting. A bot already in the
// call ends FATAL/container_restarted, within the second instead of at its
// heartbeat deadline; one that had not reached the call sees its workload
// exited, so its reconciler gives it a new attempt (or ends it when out of
// attempts) and gives the slot back.
func (s *Store) attemptRestartedTx(ctx context.Context, tx pgx.Tx, bot Bot, now time.Time) error {
	data := map[string]any{"attempt": bot.CurrentAttempt, "status": bot.Status}
	if err := addEvent(ctx, tx, bot.ID, "CONTAINER_RESTARTED", data, now); err != nil {
		return err
	}
	if bot.JoinedAt != nil {
		_, err := s.finishTx(ctx, tx, bot.ID, StatusFatal, ReasonContainerRestarted, now)
		return err
	}
	// updated_at moves, so an observation read before this one is dropped.
	if _, err := tx.Exec(ctx, `UPDATE deployments SET observed = 'exited', observed_at = $3, exit_code = NULL, updated_at = $3
		WHERE bot_id = $1 AND attempt = $2 AND state <> 'GONE'`, bot.ID, bot.CurrentAttempt, now); err != nil {
		return err
	}
	// The beats so far came from the container that is gone: they refute
	// nothing (see the reconciler's exit confirmation).
	if _, err := tx.Exec(ctx, `UPDATE bots SET revision = revision + 1, next_check_at = $2, last_heartbeat_at = NULL
		WHERE id = $1`, bot.ID, now); err != nil {
		return err
	}
	return s.enq.EnqueueReconcileTx(ctx, tx, bot.ID)
}

// HeartbeatResult is what a heartbeat learns about its bot.
type HeartbeatResult struct {
	Status             Status
	Desired            Desired
	DeployStartedAt    *time.Time
	JoinAt             *time.Time
	MaxDurationSeconds *int
}

// heartbeatSQL is written so that no partial index can serve it. Joined
// directly, and with the terminal statuses in its WHERE, the planner may
// scan the partial index of live deployments (state <> 'GONE') filtering on
// the token, and that of unfinished bots (status NOT IN ('DONE', 'FATAL'))
// filtering on the id: a scan of every live bot per beat, chosen whenever
// the statistics still say few are live (after a burst: 4x slower at 1,000
// live bots). So the attempt is found by its token alone in a materialized
// CTE, the bot by its id alone, and a terminal bot is left as it is by the
// SET (and answered on the rare path) instead of filtered out.
const heartbeatSQL = `WITH d AS MATERIALIZED (SELECT bot_id, attempt, state FROM deployments WHERE token_hash = $1)
	UPDATE bots b SET last_heartbeat_at = CASE WHEN b.status IN ('DONE', 'FATAL') THEN b.last_heartbeat_at ELSE $3 END
	FROM d
	WHERE b.id = d.bot_id AND b.id = $2 AND b.current_attempt = d.attempt AND d.state <> 'GONE'
	RETURNING b.status, b.desired, b.deploy_started_at, b.join_at, b.max_duration_seconds`

// Heartbeat records a beat of the current attempt in one round trip; it never
// refreshes a terminal bot. It does not wake the reconciler: liveness is a
// deadline the reconciler checks on its own schedule.
func (s *Store) Heartbeat(ctx context.Context, token string, botID uuid.UUID, now time.Time) (HeartbeatResult, error) {
	var r HeartbeatResult
	err := s.pool.QueryRow(ctx, heartbeatSQL, HashSecret(token), botID, now).
		Scan(&r.Status, &r.Desired, &r.DeployStartedAt, &r.JoinAt, &r.MaxDurationSeconds)
	if !errors.Is(err, pgx.ErrNoRows) && (err != nil || !r.Status.Terminal()) {
		return r, wrap("heartbeat", err)
	}
	// Rare path: say precisely why (bad token, other bot, stale, ended or
	// gone). A row that changed between the two reads is answered as it is now.
	auth, err := s.AuthenticateBot(ctx, token, botID)
	if err != nil {
		return HeartbeatResult{}, err
	}
	if err := auth.Fenced(); err != nil {
		return HeartbeatResult{}, err
	}
	bot, err := s.BotForAttempt(ctx, auth)
	return HeartbeatResult{Status: bot.Status, Desired: bot.Desired, DeployStartedAt: bot.DeployStartedAt}, err
}

// TransitionError is a status change the rules refuse.
type TransitionError struct{ From, To Status }

func (e *TransitionError) Error() string {
	return fmt.Sprintf("cannot move a bot from %s to %s", e.From, e.To)
}

// Unwrap makes a TransitionError an ErrConflict.
func (e *TransitionError) Unwrap() error { return ErrConflict }

var progress = map[Status]int{StatusDeploying: 0, StatusReady: 1, StatusJoiningCall: 2, StatusInWaitingRoom: 3, StatusInCall: 3,
	StatusLeaving: 4}

// CheckTransition applies the rules for a status a bot reports: terminals are
// absorbing, LEAVING is sticky (only DONE or FATAL follow), a bot cannot go
// back to JOINING_CALL once admitted or in call, and nothing a bot reports
// applies before it was deployed.
func CheckTransition(from, to Status) error {
	fromRank, fromOK := progress[from]
	toRank, toOK := progress[to]
	switch {
	case from.Terminal() || !fromOK:
		return &TransitionError{from, to}
	case to.Terminal():
		return nil
	case !toOK || to == StatusDeploying || toRank < fromRank:
		return &TransitionError{from, to}
	}
	return nil
}

// ReportStatus applies a status the bot reports for its attempt. Reporting the
// current status again is a no-op.
func (s *Store) ReportStatus(ctx context.Context, auth BotAuth, to Status, reason string, now time.Time) (Bot, error) {
	var bot Bot
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		if bot, err = lockAttemptBotTx(ctx, tx, auth); err != nil {
			return err
		}
		if bot.Status == to {
			return nil
		}
		if err := CheckTransition(bot.Status, to); err != nil {
			return err
		}
		if bot.Status == StatusDeploying {
			// The attempt's first report: the bot is ready (the lead times
			// are learned from this). The workload has its token; once its
			// create is recorded too (not a lost answer being retried), the
			// token is not needed.
			if _, err := tx.Exec(ctx, `UPDATE deployments SET ready_at = COALESCE(ready_at, $3),
					pending_token = CASE WHEN state IN ('PENDING', 'CREATING') THEN pending_token END
				WHERE bot_id = $1 AND attempt = $2`, bot.ID, auth.Attempt, now); err != nil {
				return err
			}
		}
		// DONE promises the recording, unless the bot never entered the
		// meeting (stopped while it waited for join_at): nothing to record.
		if to == StatusDone && bot.Recording.Enabled && bot.RecordingUploaded == nil && bot.EnteredAt != nil {
			to, reason = StatusFatal, ReasonRecordingMissing
		}
		if to.Terminal() {
			if _, err := s.finishTx(ctx, tx, bot.ID, to, terminalReason(bot, to, reason), now); err != nil {
				return err
			}
		} else if err := s.progressTx(ctx, tx, bot.ID, to, reason, now); err != nil {
			return err
		}
		bot, err = getBotTx(ctx, tx, bot.Owner, bot.ID)
		return err
	})
	return bot, err
}

// lockAttemptBotTx locks the bot of an authenticated attempt for a write the
// attempt makes; an attempt that is no longer current is ErrStaleAttempt.
func lockAttemptBotTx(ctx context.Context, tx pgx.Tx, auth BotAuth) (Bot, error) {
	rows, _ := tx.Query(ctx, `SELECT * FROM bots WHERE id = $1 FOR UPDATE`, auth.BotID)
	bot, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Bot])
	switch {
	case err != nil:
		return bot, notFound(err)
	case bot.CurrentAttempt != auth.Attempt:
		return bot, ErrStaleAttempt
	}
	return bot, nil
}

func (s *Store) progressTx(ctx context.Context, tx pgx.Tx, id uuid.UUID, to Status, reason string, now time.Time) error {
	if _, err := tx.Exec(ctx, `UPDATE bots SET status = $2, last_heartbeat_at = $3, updated_at = $3,
			joined_at = CASE WHEN $2 = 'IN_CALL' THEN COALESCE(joined_at, $3) ELSE joined_at END,
			entered_at = CASE WHEN $2 IN ('JOINING_CALL', 'IN_WAITING_ROOM', 'IN_CALL') THEN COALESCE(entered_at, $3)
				ELSE entered_at END,
			revision = revision + 1, next_check_at = $3
		WHERE id = $1`, id, to, now); err != nil {
		return err
	}
	data := map[string]any{}
	if reason != "" {
		data["reason"] = reason
	}
	if err := s.statusChangedTx(ctx, tx, id, to, data, now); err != nil {
		return err
	}
	return s.enq.EnqueueReconcileTx(ctx, tx, id)
}

// terminalReason is the reason recorded when a bot itself reports an end.
func terminalReason(bot Bot, to Status, reported string) string {
	if to == StatusFatal {
		if reported != "" {
			return reported
		}
		return ReasonBotFatal
	}
	if bot.Desired == DesiredStopped && bot.StopMode != nil {
		if *bot.StopMode == StopCancel {
			return ReasonCancelled
		}
		return ReasonRemoved
	}
	return ReasonCompleted
}

// AttemptStart says how an attempt started: when its deployment was created,
// when its bot first reported, and whether it was warm (an idle pool slot
// reused).
type AttemptStart struct {
	CreatedAt time.Time  `db:"created_at"`
	ReadyAt   *time.Time `db:"ready_at"`
	Warm      bool       `db:"warm"`
}

// AttemptStart returns how an authenticated attempt started.
func (s *Store) AttemptStart(ctx context.Context, auth BotAuth) (AttemptStart, error) {
	rows, _ := s.pool.Query(ctx, `SELECT created_at, ready_at, warm FROM deployments WHERE bot_id = $1 AND attempt = $2`,
		auth.BotID, auth.Attempt)
	st, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[AttemptStart])
	return st, notFound(err)
}
