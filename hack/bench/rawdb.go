package main

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/meeboter/meeboter/controllers"
)

// RawDBResult is the physical limit the API figures are read against: the
// same writes straight to Postgres, at the same concurrency, with no HTTP,
// authentication, validation, JSON or reads.
type RawDBResult struct {
	CreatesPerSecond    float64 `json:"creates_per_second"`
	HeartbeatsPerSecond float64 `json:"heartbeats_per_second"`
}

// Ratios are the API's rates over the raw database's, from the same run.
type Ratios struct {
	CreateVsRawDB    float64 `json:"create_vs_raw_db"`
	HeartbeatVsRawDB float64 `json:"heartbeat_vs_raw_db"`
}

// rawCreateTx writes what a create's transaction must write — the bot row,
// its QUEUED event and its reconcile job (River's own insert) — and nothing
// else: no key lookup, no idempotency or cap check, no JSON.
func rawCreateTx(ctx context.Context, pool *pgxpool.Pool, enq *controllers.Enqueuer) func(int) error {
	return func(int) error {
		return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			id := uuid.Must(uuid.NewV7())
			now := time.Now()
			if _, err := tx.Exec(ctx, `INSERT INTO bots (id, owner, meeting_url, meeting_platform, bot_name,
					automatic_leave, recording, status, queued_at, next_check_at, created_at, updated_at)
				VALUES ($1, 'raw-bench', 'https://zoom.us/j/1234567890', 'zoom', 'Meeboter', '{}', '{}', 'QUEUED', $2, $2, $2, $2)`,
				id, now); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO bot_events (bot_id, type, data, occurred_at, created_at)
				VALUES ($1, 'QUEUED', '{}', $2, $2)`, id, now); err != nil {
				return err
			}
			return enq.EnqueueReconcileTx(ctx, tx, id)
		})
	}
}

// rawHeartbeat is a heartbeat's write alone: one UPDATE by primary key, with
// no token check and nothing read back.
func rawHeartbeat(ctx context.Context, pool *pgxpool.Pool, ids []uuid.UUID) func(int) error {
	return func(i int) error {
		_, err := pool.Exec(ctx, `UPDATE bots SET last_heartbeat_at = $2 WHERE id = $1`, ids[i%len(ids)], time.Now())
		return err
	}
}
