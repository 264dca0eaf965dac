package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/meeboter/meeboter/pkg/metrics"
)

// MetricsSnapshot reads every database gauge in one round trip (a batch of
// grouped counts), for the metrics collector's cache.
func (s *Store) MetricsSnapshot(ctx context.Context) (metrics.Snapshot, error) {
	var snap metrics.Snapshot
	batch := &pgx.Batch{}
	batch.Queue(`SELECT status, coalesce(platform, ''), count(*) FROM bots GROUP BY 1, 2`).Query(func(rows pgx.Rows) error {
		var err error
		snap.Bots, err = pgx.CollectRows(rows, pgx.RowToStructByPos[metrics.BotCount])
		return err
	})
	batch.Queue(`SELECT state, meeting_platform, count(*) FROM pool_slots GROUP BY 1, 2`).Query(func(rows pgx.Rows) error {
		var err error
		snap.Slots, err = pgx.CollectRows(rows, pgx.RowToStructByPos[metrics.SlotCount])
		return err
	})
	batch.Queue(`SELECT count(*), min(queued_at), now() FROM bots WHERE status = 'QUEUED'`).QueryRow(func(row pgx.Row) error {
		return row.Scan(&snap.QueueLength, &snap.OldestQueuedAt, &snap.TakenAt)
	})
	batch.Queue(`SELECT queue, state::text, count(*) FROM river_job GROUP BY 1, 2`).Query(func(rows pgx.Rows) error {
		var err error
		snap.Jobs, err = pgx.CollectRows(rows, pgx.RowToStructByPos[metrics.JobCount])
		return err
	})
	err := s.pool.SendBatch(ctx, batch).Close()
	// The gauges' age is measured on our clock; the queue age on the database's.
	if err == nil && snap.OldestQueuedAt != nil {
		age := snap.TakenAt.Sub(*snap.OldestQueuedAt)
		snap.TakenAt = time.Now()
		oldest := snap.TakenAt.Add(-age)
		snap.OldestQueuedAt = &oldest
	} else {
		snap.TakenAt = time.Now()
	}
	return snap, wrap("metrics snapshot", err)
}
