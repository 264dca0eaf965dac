package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// WebhookSecret is one of a tenant's signing secrets, without its value.
type WebhookSecret struct {
	ID        int64      `db:"id"`
	Owner     string     `db:"owner"`
	CreatedAt time.Time  `db:"created_at"`
	ExpiresAt *time.Time `db:"expires_at"`
}

// lockOwnerSecretsTx serialises the changes of one tenant's secrets, so two
// concurrent first keys make one secret and two rotations do not both keep
// their own.
func lockOwnerSecretsTx(ctx context.Context, tx pgx.Tx, owner string) error {
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('meeboter-webhook-secret:' || $1, 0))`, owner)
	return err
}

// EnsureWebhookSecret gives a tenant its first signing secret, newSecret,
// unless it has one; created says whether it was given (and so is to be
// shown, once).
func (s *Store) EnsureWebhookSecret(ctx context.Context, owner, newSecret string, now time.Time) (created bool, err error) {
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockOwnerSecretsTx(ctx, tx, owner); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO webhook_secrets (owner, secret, created_at)
			SELECT $1, $2, $3 WHERE NOT EXISTS (
				SELECT 1 FROM webhook_secrets WHERE owner = $1 AND (expires_at IS NULL OR expires_at > $3))`,
			owner, newSecret, now)
		created = err == nil && tag.RowsAffected() == 1
		return err
	})
	return created, wrap("ensure webhook secret", err)
}

// RotateWebhookSecret makes newSecret the tenant's secret; those it had
// keep signing for overlap (0: they stop at once).
func (s *Store) RotateWebhookSecret(ctx context.Context, owner, newSecret string, overlap time.Duration, now time.Time) error {
	return wrap("rotate webhook secret", s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockOwnerSecretsTx(ctx, tx, owner); err != nil {
			return err
		}
		until := now.Add(overlap)
		if _, err := tx.Exec(ctx, `UPDATE webhook_secrets SET expires_at = $2
			WHERE owner = $1 AND (expires_at IS NULL OR expires_at > $2)`, owner, until); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO webhook_secrets (owner, secret, created_at) VALUES ($1, $2, $3)`,
			owner, newSecret, now)
		return err
	}))
}

// SigningSecrets are the tenant's unexpired secrets, newest first: every
// one signs its deliveries.
func (s *Store) SigningSecrets(ctx context.Context, owner string, now time.Time) ([]string, error) {
	rows, _ := s.pool.Query(ctx, `SELECT secret FROM webhook_secrets
		WHERE owner = $1 AND (expires_at IS NULL OR expires_at > $2) ORDER BY id DESC`, owner, now)
	secrets, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return secrets, wrap("signing secrets", err)
}

// WebhookSecrets lists every tenant's secrets, without their values, for
// the operator.
func (s *Store) WebhookSecrets(ctx context.Context) ([]WebhookSecret, error) {
	rows, _ := s.pool.Query(ctx, `SELECT id, owner, created_at, expires_at FROM webhook_secrets ORDER BY owner, id`)
	secrets, err := pgx.CollectRows(rows, pgx.RowToStructByName[WebhookSecret])
	return secrets, wrap("webhook secrets", err)
}
