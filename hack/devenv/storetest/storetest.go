// Package storetest gives tests a real, migrated Meeboter database: the
// schema is migrated once per test binary into a template that every test
// clones, so each test has its own database in milliseconds.
package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/hack/devenv/pgtest"
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
	return NewPoolWith(t, nil)
}

// NewPoolWith is NewPool with its configuration changed by configure first
// (e.g. a tracer on ConnConfig that counts queries).
func NewPoolWith(t testing.TB, configure func(*pgxpool.Config)) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(NewDatabase(t))
	require.NoError(t, err)
	store.ConfigurePool(cfg)
	if configure != nil {
		configure(cfg)
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// BeginCreate records that an attempt's workload is being created with
// token, as a reconciler does before its create call.
func BeginCreate(t testing.TB, st *store.Store, id uuid.UUID, attempt int, token string, now time.Time) {
	t.Helper()
	_, err := st.BeginCreate(context.Background(), id, attempt, token, now)
	require.NoError(t, err)
}

// NewSession returns a connected session named identity on pool's database,
// closed after the test.
func NewSession(t testing.TB, pool *pgxpool.Pool, identity string) *store.Session {
	t.Helper()
	s, err := store.NewSession(store.SessionConfig{Conn: pool.Config().ConnConfig, Identity: identity,
		PingInterval: 100 * time.Millisecond})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		s.Run(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	select {
	case <-s.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("session not ready")
	}
	return s
}
