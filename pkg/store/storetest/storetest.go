// Package storetest gives tests a real, migrated Meeboter database: the
// schema is migrated once per test binary into a template that every test
// clones, so each test has its own database in milliseconds.
package storetest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/pgtest"
	"github.com/meeboter/meeboter/pkg/store"
)

const template = "meeboter_migrated"

// NewDatabase returns the URL of a fresh migrated database, dropped after
// the test. The package's TestMain must call pgtest.Main.
func NewDatabase(t testing.TB) string {
	t.Helper()
	require.NoError(t, pgtest.EnsureTemplate(template, func(ctx context.Context, url string) error {
		pool, err := pgxpool.New(ctx, url)
		if err != nil {
			return err
		}
		defer pool.Close()
		_, err = store.Migrate(ctx, pool)
		return err
	}))
	return pgtest.NewDatabaseFrom(t, template)
}

// NewPool returns a pool on a fresh migrated database, closed after the test.
func NewPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), NewDatabase(t))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}
