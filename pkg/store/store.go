package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Enqueuer inserts the controller's jobs inside the caller's transaction, so a
// row change and the job that reacts to it commit or roll back together.
type Enqueuer interface {
	EnqueueReconcileTx(ctx context.Context, tx pgx.Tx, botIDs ...uuid.UUID) error
	// EnqueueStatusChangeTx schedules the webhooks of a status change.
	EnqueueStatusChangeTx(ctx context.Context, tx pgx.Tx, change StatusChange) error
}

// StatusChange is one status change of a bot: its timeline event and the bot
// right after it, as webhooks report it.
type StatusChange struct {
	EventID    int64
	Bot        Bot
	OccurredAt time.Time
}

// Store is the database access of Meeboter.
type Store struct {
	pool *pgxpool.Pool
	enq  Enqueuer
}

// New returns a Store on pool; enq is used by every write that wakes a
// reconciler.
func New(pool *pgxpool.Pool, enq Enqueuer) *Store {
	return &Store{pool: pool, enq: enq}
}

// Pool returns the underlying pool (for River and health checks).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// HashSecret is how API keys and bot tokens are stored: a SHA-256 of a
// high-entropy random secret (no salt needed; nothing to brute-force).
func HashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// inTx runs fn in a transaction.
func (s *Store) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, fn)
}

// notFound maps pgx.ErrNoRows to ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("store: %s: %w", op, err)
}
