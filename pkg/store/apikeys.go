package store

import (
	"context"
	"crypto/rand"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// APIKeyPrefix starts every API key, so a leaked key is recognisable.
const APIKeyPrefix = "mb_"

// CreateAPIKey makes a key for owner and returns it in clear exactly once.
func (s *Store) CreateAPIKey(ctx context.Context, owner, name string, now time.Time) (string, APIKey, error) {
	secret := APIKeyPrefix + rand.Text()
	key := APIKey{ID: uuid.Must(uuid.NewV7()), Owner: owner, Name: name, Prefix: secret[:len(APIKeyPrefix)+6], CreatedAt: now}
	_, err := s.pool.Exec(ctx, `INSERT INTO api_keys (id, owner, name, prefix, key_hash, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, key.ID, owner, name, key.Prefix, HashSecret(secret), now)
	return secret, key, wrap("create api key", err)
}

// ListAPIKeys returns every key, newest first.
func (s *Store) ListAPIKeys(ctx context.Context) ([]APIKey, error) {
	rows, _ := s.pool.Query(ctx, `SELECT id, owner, name, prefix, created_at, revoked_at FROM api_keys ORDER BY id DESC`)
	keys, err := pgx.CollectRows(rows, pgx.RowToStructByName[APIKey])
	return keys, wrap("list api keys", err)
}

// RevokeAPIKey revokes the key with that id.
func (s *Store) RevokeAPIKey(ctx context.Context, id uuid.UUID, now time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1`, id, now)
	if err != nil {
		return wrap("revoke api key", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// AuthenticateAPIKey returns the owner of a valid, unrevoked key.
func (s *Store) AuthenticateAPIKey(ctx context.Context, secret string) (string, error) {
	var owner string
	err := s.pool.QueryRow(ctx, `SELECT owner FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL`,
		HashSecret(secret)).Scan(&owner)
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return "", ErrUnauthenticated
		}
		return "", wrap("authenticate api key", err)
	}
	return owner, nil
}
