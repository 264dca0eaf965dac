package store

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// FinishBot is the one terminal write: every writer (bot, reconciler,
// deadline) ends a bot through it. It sets status, reason and ended_at, records
// the event and wakes the reconciler, which stops any live workload and so
// releases capacity. It reports false when the bot was already terminal:
// DONE and FATAL are absorbing.
func (s *Store) FinishBot(ctx context.Context, id uuid.UUID, status Status, reason string, now time.Time) (bool, error) {
	var finished bool
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		var err error
		finished, err = s.finishTx(ctx, tx, id, status, reason, now)
		return err
	})
	return finished, wrap("finish bot", err)
}

func (s *Store) finishTx(ctx context.Context, tx pgx.Tx, id uuid.UUID, status Status, reason string, now time.Time) (bool, error) {
	if !status.Terminal() {
		panic("store: finishTx with non-terminal status " + status)
	}
	// An ended bot holds no capacity any more: its reservation goes too.
	tag, err := tx.Exec(ctx, `UPDATE bots SET status = $2, status_reason = $3, ended_at = $4,
			reserved_platform = NULL, reserved_from = NULL, reserved_until = NULL,
			observed_generation = generation, revision = revision + 1, next_check_at = $4, updated_at = $4
		WHERE id = $1 AND status NOT IN ('DONE', 'FATAL')`, id, status, reason, now)
	if err != nil || tag.RowsAffected() == 0 {
		return false, err
	}
	if err := s.statusChangedTx(ctx, tx, id, status, map[string]any{"reason": reason}, now); err != nil {
		return false, err
	}
	if err := s.enq.EnqueueReconcileTx(ctx, tx, id); err != nil {
		return false, err
	}
	return true, wakeTx(ctx, tx, WakeAdmit)
}
