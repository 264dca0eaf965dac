package store

import (
	"context"
	"encoding/json"

	"github.com/jackc/pgx/v5"
)

// WakeChannel is the Postgres NOTIFY channel of wake-ups for the leader's
// controllers: a change that gives one of them work (a freed capacity, a
// claimed slot, an exited process) notifies it, and the leader, which
// listens, runs that controller at once instead of at its next period.
// NOTIFY is transactional: a wake-up sent in a transaction is delivered only
// if it commits. A wake-up nobody hears (no leader right now) is harmless:
// every controller also runs periodically.
const WakeChannel = "meeboter_wake"

// Wake-up payloads.
const (
	WakeAdmit = "admit" // capacity freed or a bot queued
	WakePool  = "pool"  // a pool slot was claimed or released
	// WakeAll wakes every controller; Listen hands it over once it listens,
	// for the wake-ups sent before (at a new leader, after a reconnect).
	WakeAll = "all"
)

// WakeObserve is the wake-up of one platform's observer.
func WakeObserve(platform string) string { return "observe:" + platform }

func wakeTx(ctx context.Context, tx pgx.Tx, what string) error {
	_, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, WakeChannel, what)
	return err
}

// Wake sends a wake-up now.
func (s *Store) Wake(ctx context.Context, what string) error {
	_, err := s.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, WakeChannel, what)
	return wrap("wake "+what, err)
}

// NotifyJobsTx tells River's producers of queue, at tx's commit, that jobs
// were inserted: River's documented notification for jobs inserted outside
// its client (channel `<schema>.river_insert`).
func NotifyJobsTx(ctx context.Context, tx pgx.Tx, queue string) error {
	payload, err := json.Marshal(struct {
		Queue string `json:"queue"`
	}{queue})
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `SELECT pg_notify(current_schema() || '.river_insert', $1)`, string(payload))
	return wrap("notify jobs of "+queue, err)
}
