package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Capacity on a platform is promised over time. A bot occupies its
// platform over an interval: a bot with a reservation over its reserved
// window; a live bot without one from its deploy start to the end of its
// longest life. A window is granted, under the platform's admission lock,
// only while the peak number of intervals overlapping it stays below the
// platform's limit, so a promise is never oversubscribed; an unreserved bot
// is admitted only within the same bound over its own lifetime.

// Reservation is a window of capacity asked for on a platform.
type Reservation struct {
	Platform string
	Limit    int
	From     time.Time
	Until    time.Time
	// Lifetime is how long a live bot without a reservation may run (from
	// its deploy start): how far ahead it may still hold capacity.
	Lifetime time.Duration
}

// reserveTx gives bot the first candidate window some platform can still
// guarantee; with none, the bot is left without (best effort).
func reserveTx(ctx context.Context, tx pgx.Tx, bot Bot, candidates []Reservation) (Bot, error) {
	for _, c := range candidates {
		if err := lockPlatformTx(ctx, tx, c.Platform); err != nil {
			return bot, err
		}
		n, err := peakTx(ctx, tx, c.Platform, c.From, c.Until, c.Lifetime)
		if err != nil {
			return bot, err
		}
		if n >= c.Limit {
			continue
		}
		rows, _ := tx.Query(ctx, `UPDATE bots SET reserved_platform = $2, reserved_from = $3, reserved_until = $4
			WHERE id = $1 RETURNING *`, bot.ID, c.Platform, c.From, c.Until)
		return pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Bot])
	}
	return bot, nil
}

// lockPlatformTx takes the platform's admission lock: reservations,
// admission and fallbacks of one platform count and claim one at a time.
func lockPlatformTx(ctx context.Context, tx pgx.Tx, platform string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('meeboter-admit:' || $1, 0))`, platform)
	return err
}

// peakTx is the most intervals on platform that overlap at any one
// instant of [from, until): a sweep over their starts and ends, an end
// before a start at the same instant (the intervals are half-open).
func peakTx(ctx context.Context, tx pgx.Tx, platform string, from, until time.Time, lifetime time.Duration) (int, error) {
	var n int
	err := tx.QueryRow(ctx, `WITH iv (s, e) AS (
			SELECT reserved_from, reserved_until FROM bots WHERE reserved_platform = $1
			UNION ALL
			SELECT b.deploy_started_at, b.deploy_started_at + $4::interval FROM deployments d JOIN bots b ON b.id = d.bot_id
			WHERE d.platform = $1 AND d.state <> 'GONE' AND b.reserved_platform IS DISTINCT FROM $1),
		clipped AS (SELECT greatest(s, $2) s, least(e, $3) e FROM iv WHERE s < $3 AND e > $2),
		ev (t, d) AS (SELECT s, 1 FROM clipped UNION ALL SELECT e, -1 FROM clipped)
		SELECT coalesce(max(run), 0) FROM (SELECT sum(d) OVER (ORDER BY t, d ROWS UNBOUNDED PRECEDING) run FROM ev) sweep`,
		platform, from, until, lifetime).Scan(&n)
	return n, err
}

// releaseTx gives up a bot's reservation (it ended, or it is rescheduled).
func releaseTx(ctx context.Context, tx pgx.Tx, id uuid.UUID) error {
	_, err := tx.Exec(ctx, `UPDATE bots SET reserved_platform = NULL, reserved_from = NULL, reserved_until = NULL
		WHERE id = $1 AND reserved_platform IS NOT NULL`, id)
	return err
}

// QueuePosition is a queued bot's place in its queue (1: next), counting
// the bots admitted before it: reserved ones first, then the others in
// fair order across tenants (fairQueueSQL).
func (s *Store) QueuePosition(ctx context.Context, b Bot) (int, error) {
	if b.Status != StatusQueued || b.QueuedAt == nil {
		return 0, nil
	}
	var n int
	err := s.pool.QueryRow(ctx, fairQueueSQL(`desired = 'RUNNING' OR id = $1`)+`
		SELECT n FROM (SELECT id, row_number() OVER (ORDER BY reserved DESC, turn, queued_at, id) AS n FROM ranked) p
		WHERE id = $1`, b.ID).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return n, wrap("queue position", err)
}

// Errors of PatchBot.
var (
	ErrAdmitted   = fmt.Errorf("%w: the bot was admitted (or stopped) already; only a SCHEDULED or QUEUED bot can be changed", ErrConflict)
	ErrNoCapacity = fmt.Errorf("%w: no platform can guarantee the new window", ErrConflict)
)

// BotPatch is a change to a bot not admitted yet; nil fields are kept.
type BotPatch struct {
	JoinAt         *time.Time
	BotName        *string
	Metadata       json.RawMessage
	AutomaticLeave *AutomaticLeave
	// SetCallbackURL replaces the callback URL with CallbackURL (nil: none).
	SetCallbackURL bool
	CallbackURL    *string
	// Reserve are the windows to ask for the new join_at, as at create. A
	// bot that held a reservation and gets none of them is not changed
	// (ErrNoCapacity).
	Reserve []Reservation
}

// PatchBot changes owner's bot while it is SCHEDULED or QUEUED. A new
// join_at moves it between the two and moves its reservation.
func (s *Store) PatchBot(ctx context.Context, owner string, id uuid.UUID, p BotPatch, now time.Time) (Bot, error) {
	var bot Bot
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		rows, _ := tx.Query(ctx, `SELECT * FROM bots WHERE id = $1 AND owner = $2 FOR UPDATE`, id, owner)
		old, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Bot])
		if err != nil {
			return notFound(err)
		}
		if (old.Status != StatusScheduled && old.Status != StatusQueued) || old.Desired != DesiredRunning {
			return ErrAdmitted
		}
		status := old.Status
		if p.JoinAt != nil {
			status = StatusQueued
			if p.JoinAt.After(now) {
				status = StatusScheduled
			}
		}
		rows, _ = tx.Query(ctx, `UPDATE bots SET join_at = COALESCE($3, join_at), bot_name = COALESCE($4, bot_name),
				metadata = COALESCE($5, metadata), automatic_leave = COALESCE($6, automatic_leave),
				callback_url = CASE WHEN $7 THEN $8 ELSE callback_url END, status = $9,
				queued_at = CASE WHEN $9 = 'QUEUED' THEN COALESCE(queued_at, $10) END,
				generation = generation + 1, revision = revision + 1, next_check_at = $10, updated_at = $10
			WHERE id = $1 AND owner = $2 RETURNING *`, id, owner, p.JoinAt, p.BotName, nullJSON(p.Metadata),
			p.AutomaticLeave, p.SetCallbackURL, p.CallbackURL, status, now)
		if bot, err = pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Bot]); err != nil {
			return err
		}
		if p.JoinAt != nil {
			if bot, err = s.moveReservationTx(ctx, tx, old, bot, p.Reserve); err != nil {
				return err
			}
		}
		if err := addEvent(ctx, tx, id, "UPDATED", p.changed(), now); err != nil {
			return err
		}
		if status != old.Status {
			if err := s.statusChangedTx(ctx, tx, id, status, map[string]any{"reason": "join_at changed"}, now); err != nil {
				return err
			}
		}
		if err := s.enq.EnqueueReconcileTx(ctx, tx, id); err != nil {
			return err
		}
		return wakeTx(ctx, tx, WakeAdmit)
	})
	return bot, wrap("patch bot", err)
}

// moveReservationTx gives bot (old, before its join_at changed) a window
// for its new join_at in place of its old one.
func (s *Store) moveReservationTx(ctx context.Context, tx pgx.Tx, old, bot Bot, candidates []Reservation) (Bot, error) {
	if err := releaseTx(ctx, tx, bot.ID); err != nil {
		return bot, err
	}
	bot.ReservedPlatform, bot.ReservedFrom, bot.ReservedUntil = nil, nil, nil
	bot, err := reserveTx(ctx, tx, bot, candidates)
	if err == nil && old.ReservedPlatform != nil && bot.ReservedPlatform == nil {
		return bot, ErrNoCapacity
	}
	return bot, err
}

func (p BotPatch) changed() map[string]any {
	fields := []string{}
	for name, set := range map[string]bool{"join_at": p.JoinAt != nil, "bot_name": p.BotName != nil,
		"metadata": p.Metadata != nil, "automatic_leave": p.AutomaticLeave != nil, "callback_url": p.SetCallbackURL} {
		if set {
			fields = append(fields, name)
		}
	}
	slices.Sort(fields)
	return map[string]any{"fields": fields}
}

func nullJSON(raw json.RawMessage) any {
	if raw == nil {
		return nil
	}
	return raw
}
