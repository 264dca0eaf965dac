package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// NewBot is the spec the API accepted.
type NewBot struct {
	Owner           string
	MeetingURL      string
	MeetingPlatform string
	BotName         string
	JoinAt          *time.Time
	AutomaticLeave  AutomaticLeave
	Recording       Recording
	Metadata        json.RawMessage
	CallbackURL     *string
	// MaxDurationSeconds, when set, bounds the bot's stay (Bot.LeaveAt).
	MaxDurationSeconds *int
	// Reserve, when set, asks for capacity for the bot's window on the first
	// of its candidates that can guarantee it (a bot scheduled far enough
	// ahead); none can: the bot is created without, best effort.
	Reserve []Reservation
	// MaxBots is the owner's cap on unfinished bots unless tenant_limits
	// stores one (0: none); a create beyond it is a *CapError.
	MaxBots int
}

// Idempotency identifies a create request that may be replayed.
type Idempotency struct {
	Key         string
	RequestHash []byte
}

// CreateResult is a created bot, or the replay of an earlier create.
type CreateResult struct {
	Bot      Bot
	Response []byte
	Replayed bool
}

// Conflicts of an Idempotency-Key.
var (
	ErrIdempotencyInFlight = fmt.Errorf("%w: a request with this Idempotency-Key is in progress", ErrConflict)
	ErrIdempotencyMismatch = fmt.Errorf("%w: this Idempotency-Key was used with a different request body", ErrConflict)
)

// CreateBot inserts a bot and its first reconcile job in one transaction.
// render builds the response body, stored for Idempotency-Key replays.
func (s *Store) CreateBot(ctx context.Context, nb NewBot, idem *Idempotency, now time.Time,
	render func(Bot) ([]byte, error)) (CreateResult, error) {
	var res CreateResult
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if idem != nil {
			replay, err := checkIdempotency(ctx, tx, nb.Owner, *idem)
			if err != nil || replay != nil {
				res = CreateResult{Response: replay, Replayed: replay != nil}
				return err
			}
		}
		if err := checkCapTx(ctx, tx, nb.Owner, nb.MaxBots); err != nil {
			return err
		}
		bot, err := insertBot(ctx, tx, nb, now)
		if err != nil {
			return err
		}
		if bot, err = reserveTx(ctx, tx, bot, nb.Reserve); err != nil {
			return err
		}
		body, err := render(bot)
		if err != nil {
			return err
		}
		if idem != nil {
			if _, err := tx.Exec(ctx, `INSERT INTO idempotency_keys (owner, key, request_hash, bot_id, response, created_at)
				VALUES ($1, $2, $3, $4, $5, $6)`, nb.Owner, idem.Key, idem.RequestHash, bot.ID, body, now); err != nil {
				return err
			}
		}
		if err := s.statusChangedTx(ctx, tx, bot.ID, bot.Status, nil, now); err != nil {
			return err
		}
		if err := s.enq.EnqueueReconcileTx(ctx, tx, bot.ID); err != nil {
			return err
		}
		res = CreateResult{Bot: bot, Response: body}
		return wakeTx(ctx, tx, WakeAdmit)
	})
	return res, err
}

// IdempotentResponse returns the stored first response of an earlier request
// with this key and body (nil when there is none), or ErrIdempotencyMismatch.
// The API asks before validating, so a retry of an accepted request replays
// even when its body would no longer validate (e.g. join_at now past).
func (s *Store) IdempotentResponse(ctx context.Context, owner string, idem Idempotency) ([]byte, error) {
	var hash, body []byte
	err := s.pool.QueryRow(ctx, `SELECT request_hash, response FROM idempotency_keys WHERE owner = $1 AND key = $2`,
		owner, idem.Key).Scan(&hash, &body)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, wrap("idempotent response", err)
	case !bytes.Equal(hash, idem.RequestHash):
		return nil, ErrIdempotencyMismatch
	}
	return body, nil
}

// checkIdempotency returns the stored response of an earlier identical request.
// A transaction-scoped advisory lock on the key makes a concurrent duplicate
// answer "in flight" instead of racing.
func checkIdempotency(ctx context.Context, tx pgx.Tx, owner string, idem Idempotency) ([]byte, error) {
	var locked bool
	if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtext($1), hashtext($2))`,
		owner, idem.Key).Scan(&locked); err != nil {
		return nil, err
	}
	if !locked {
		return nil, ErrIdempotencyInFlight
	}
	var hash, body []byte
	err := tx.QueryRow(ctx, `SELECT request_hash, response FROM idempotency_keys WHERE owner = $1 AND key = $2`,
		owner, idem.Key).Scan(&hash, &body)
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil
		}
		return nil, err
	}
	if !bytes.Equal(hash, idem.RequestHash) {
		return nil, ErrIdempotencyMismatch
	}
	return body, nil
}

func insertBot(ctx context.Context, tx pgx.Tx, nb NewBot, now time.Time) (Bot, error) {
	status := StatusQueued
	queuedAt := &now
	if nb.JoinAt != nil && nb.JoinAt.After(now) {
		status, queuedAt = StatusScheduled, nil
	}
	metadata := nb.Metadata
	if len(metadata) == 0 {
		metadata = json.RawMessage(`{}`)
	}
	rows, _ := tx.Query(ctx, `INSERT INTO bots (id, owner, meeting_url, meeting_platform, bot_name, join_at,
			automatic_leave, recording, metadata, callback_url, status, queued_at, next_check_at, created_at, updated_at,
			max_duration_seconds)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $13, $14) RETURNING *`,
		uuid.Must(uuid.NewV7()), nb.Owner, nb.MeetingURL, nb.MeetingPlatform, nb.BotName, nb.JoinAt,
		nb.AutomaticLeave, nb.Recording, metadata, nb.CallbackURL, status, queuedAt, now, nb.MaxDurationSeconds)
	return pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Bot])
}

// GetBot returns owner's bot.
func (s *Store) GetBot(ctx context.Context, owner string, id uuid.UUID) (Bot, error) {
	rows, _ := s.pool.Query(ctx, `SELECT * FROM bots WHERE id = $1 AND owner = $2`, id, owner)
	bot, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Bot])
	return bot, notFound(err)
}

// BotFilter narrows ListBots. Before is the keyset cursor (ids are UUIDv7, so
// id order is creation order).
type BotFilter struct {
	Statuses        []string
	MeetingPlatform string
	Before          *uuid.UUID
	Limit           int
}

// ListBots returns owner's bots, newest first.
func (s *Store) ListBots(ctx context.Context, owner string, f BotFilter) ([]Bot, error) {
	rows, _ := s.pool.Query(ctx, `SELECT * FROM bots
		WHERE owner = $1
		  AND (coalesce(cardinality($2::text[]), 0) = 0 OR status = ANY($2))
		  AND ($3 = '' OR meeting_platform = $3)
		  AND ($4::uuid IS NULL OR id < $4)
		ORDER BY id DESC LIMIT $5`, owner, f.Statuses, f.MeetingPlatform, f.Before, f.Limit)
	bots, err := pgx.CollectRows(rows, pgx.RowToStructByName[Bot])
	return bots, wrap("list bots", err)
}

// ListEvents returns the timeline of owner's bot after event id after.
func (s *Store) ListEvents(ctx context.Context, owner string, id uuid.UUID, after int64, limit int) ([]Event, error) {
	if _, err := s.GetBot(ctx, owner, id); err != nil {
		return nil, err
	}
	rows, _ := s.pool.Query(ctx, `SELECT * FROM bot_events WHERE bot_id = $1 AND id > $2 ORDER BY id LIMIT $3`,
		id, after, limit)
	events, err := pgx.CollectRows(rows, pgx.RowToStructByName[Event])
	return events, wrap("list events", err)
}

// RequestStop sets desired STOPPED. A cancel overrides an earlier leave; a
// terminal bot is returned unchanged.
func (s *Store) RequestStop(ctx context.Context, owner string, id uuid.UUID, mode StopMode, now time.Time) (Bot, error) {
	var bot Bot
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `UPDATE bots SET desired = 'STOPPED',
				stop_mode = CASE WHEN stop_mode = 'cancel' THEN 'cancel' ELSE $3 END,
				stop_requested_at = COALESCE(stop_requested_at, $4),
				reserved_platform = CASE WHEN status IN ('SCHEDULED', 'QUEUED') THEN NULL ELSE reserved_platform END,
				reserved_from = CASE WHEN status IN ('SCHEDULED', 'QUEUED') THEN NULL ELSE reserved_from END,
				reserved_until = CASE WHEN status IN ('SCHEDULED', 'QUEUED') THEN NULL ELSE reserved_until END,
				generation = generation + 1, revision = revision + 1, next_check_at = $4, updated_at = $4
			WHERE id = $1 AND owner = $2 AND status NOT IN ('DONE', 'FATAL')
			  AND (desired = 'RUNNING' OR (stop_mode = 'leave' AND $3 = 'cancel'))
			RETURNING *`, id, owner, mode, now)
		var err error
		bot, err = pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Bot])
		if errors.Is(err, pgx.ErrNoRows) {
			bot, err = getBotTx(ctx, tx, owner, id) // already stopped or terminal: nothing to change
			return err
		}
		if err != nil {
			return err
		}
		if err := addEvent(ctx, tx, id, "STOP_REQUESTED", map[string]any{"mode": mode}, now); err != nil {
			return err
		}
		return s.enq.EnqueueReconcileTx(ctx, tx, id)
	})
	return bot, err
}

func getBotTx(ctx context.Context, tx pgx.Tx, owner string, id uuid.UUID) (Bot, error) {
	rows, _ := tx.Query(ctx, `SELECT * FROM bots WHERE id = $1 AND owner = $2`, id, owner)
	bot, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Bot])
	return bot, notFound(err)
}

func addEvent(ctx context.Context, tx pgx.Tx, id uuid.UUID, typ string, data any, now time.Time) error {
	if data == nil {
		data = map[string]any{}
	}
	_, err := tx.Exec(ctx, `INSERT INTO bot_events (bot_id, type, data, occurred_at, created_at) VALUES ($1, $2, $3, $4, $4)`,
		id, typ, data, now)
	return err
}

// statusChangedTx records that bot id has just moved to status: the timeline
// event and, in the same transaction, its webhooks. Every status write goes
// through here, so no change is ever reported twice or lost.
func (s *Store) statusChangedTx(ctx context.Context, tx pgx.Tx, id uuid.UUID, status Status, data any, now time.Time) error {
	if data == nil {
		data = map[string]any{}
	}
	// One round trip: the event, and the bot as it is after the change.
	rows, _ := tx.Query(ctx, `WITH e AS (
			INSERT INTO bot_events (bot_id, type, data, occurred_at, created_at) VALUES ($1, $2, $3, $4, $4) RETURNING id)
		SELECT e.id AS event_id, b.* FROM e, bots b WHERE b.id = $1`, id, string(status), data, now)
	changed, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[statusChangeRow])
	if err != nil {
		return err
	}
	return s.enq.EnqueueStatusChangeTx(ctx, tx, StatusChange{EventID: changed.EventID, Bot: changed.Bot, OccurredAt: now})
}

type statusChangeRow struct {
	EventID int64 `db:"event_id"`
	Bot
}

// AddBotEvent appends one controller-side event (a webhook delivery, say)
// to a bot's timeline.
func (s *Store) AddBotEvent(ctx context.Context, id uuid.UUID, typ string, data any, now time.Time) error {
	return wrap("add event", s.AddBotEvents(ctx, []ControllerEvent{{BotID: id, Type: typ, Data: data, OccurredAt: now}}))
}
