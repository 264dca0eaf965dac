package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Why an authenticated attempt may write nothing more (BotAuth.Fenced), and
// why a batch of its events is refused.
var (
	// ErrBotEnded: the attempt's bot is DONE or FATAL.
	ErrBotEnded = errors.New("the bot has ended; this attempt is over and its container must exit")
	// ErrDeploymentGone: the controller saw the attempt's workload end.
	ErrDeploymentGone = errors.New("this attempt's deployment is gone; its container must exit")
	// ErrTooManyEvents: the batch would take the attempt past its allowance.
	ErrTooManyEvents = errors.New("too many events")
)

// Fenced says why auth's attempt may do nothing more: ErrDeploymentGone once
// its deployment is GONE, else ErrBotEnded once its bot is terminal; nil
// while it runs. A token must not outlive the work it was issued for, or a
// leaked or zombie container could keep writing to a finished bot.
func (a BotAuth) Fenced() error {
	switch {
	case a.Deployment == DeploymentGone:
		return ErrDeploymentGone
	case a.Status.Terminal():
		return ErrBotEnded
	}
	return nil
}

// Event sources (Event.Source): the controller's record, or a bot's claim.
const (
	SourceController = "controller"
	SourceBot        = "bot"
)

// NewEvent is a timeline entry a bot reports.
type NewEvent struct {
	Type       string
	OccurredAt time.Time
	Data       json.RawMessage
}

// AddEvents appends a batch an attempt's bot claims, as source "bot". Under
// the bot's lock, so it cannot race the end or another batch: the attempt
// must not be fenced (it is checked again here), each occurred_at is clamped
// to the attempt's lifetime (not before its deployment was created, not after
// now), and the attempt may hold at most maxPerAttempt bot events in all
// (ErrTooManyEvents; nothing of the batch is written).
func (s *Store) AddEvents(ctx context.Context, auth BotAuth, events []NewEvent, now time.Time, maxPerAttempt int) error {
	return wrap("add events", s.inTx(ctx, func(tx pgx.Tx) error {
		bot, err := lockAttemptBotTx(ctx, tx, auth)
		if err != nil {
			return err
		}
		cur := BotAuth{BotID: auth.BotID, Attempt: auth.Attempt, Status: bot.Status}
		var created time.Time
		var held int
		if err := tx.QueryRow(ctx, `SELECT d.created_at, d.state, (SELECT count(*) FROM bot_events e
				WHERE e.bot_id = d.bot_id AND e.attempt = d.attempt AND e.source = 'bot')
			FROM deployments d WHERE d.bot_id = $1 AND d.attempt = $2`, auth.BotID, auth.Attempt).
			Scan(&created, &cur.Deployment, &held); err != nil {
			return notFound(err)
		}
		if err := cur.Fenced(); err != nil {
			return err
		}
		if held+len(events) > maxPerAttempt {
			return fmt.Errorf("%w: this attempt has posted %d of its %d events; %d more do not fit",
				ErrTooManyEvents, held, maxPerAttempt, len(events))
		}
		return insertBotEventsTx(ctx, tx, auth, events, created, now)
	}))
}

// insertBotEventsTx writes a batch in one statement, each occurred_at
// clamped to [created, now].
func insertBotEventsTx(ctx context.Context, tx pgx.Tx, auth BotAuth, events []NewEvent, created, now time.Time) error {
	types := make([]string, len(events))
	times := make([]time.Time, len(events))
	datas := make([]string, len(events))
	for i, e := range events {
		types[i], times[i], datas[i] = e.Type, ClampOccurredAt(e.OccurredAt, created, now), string(e.Data)
		if len(e.Data) == 0 {
			datas[i] = "{}"
		}
	}
	_, err := tx.Exec(ctx, `INSERT INTO bot_events (bot_id, type, data, occurred_at, created_at, source, attempt)
		SELECT $1, t, d::jsonb, o, $5, 'bot', $6 FROM unnest($2::text[], $3::text[], $4::timestamptz[]) AS u(t, d, o)`,
		auth.BotID, types, datas, times, now, auth.Attempt)
	return err
}

// ClampOccurredAt is when a bot's event is recorded as having happened: its
// claim, moved into the attempt's lifetime (from created to now). A zero
// claim is now. A bot's clock may be wrong, and its word is not evidence: a
// claim outside the attempt's life is clamped rather than refused, so a
// skewed clock loses no event.
func ClampOccurredAt(at, created, now time.Time) time.Time {
	switch {
	case at.IsZero() || at.After(now):
		return now
	case at.Before(created):
		return created
	}
	return at
}
