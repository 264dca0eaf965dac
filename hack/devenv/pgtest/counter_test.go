package pgtest_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/hack/devenv/pgtest"
)

func TestQueryCounter(t *testing.T) {
	t.Parallel()
	counter := &pgtest.QueryCounter{}
	cfg, err := pgx.ParseConfig(pgtest.NewDatabase(t))
	require.NoError(t, err)
	cfg.Tracer = counter
	conn, err := pgx.ConnectConfig(t.Context(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	ctx := t.Context()
	_, err = conn.Exec(ctx, `CREATE TABLE a (id int PRIMARY KEY, n int); CREATE TABLE "B" (id int)`)
	require.NoError(t, err)

	counter.Reset()
	require.NoError(t, pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `SELECT id FROM a WHERE id = $1 FOR UPDATE`, 1) // a lock, not a write
		return err
	}))
	var updated int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) AS updated_rows FROM a /* UPDATE b */ -- DELETE FROM c`).Scan(&updated))
	require.Empty(t, counter.Written())
	require.Equal(t, 1, counter.Transactions())
	require.Equal(t, 4, counter.Queries(), "begin, select, commit, select")
	require.Equal(t, 2, counter.Prepares(), "two statements used for the first time")

	counter.Reset()
	_, err = conn.Exec(ctx, `WITH x AS (UPDATE a SET n = 1 RETURNING id) INSERT INTO public."B" SELECT id FROM x
		ON CONFLICT DO NOTHING`)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `INSERT INTO a VALUES (1, 0) ON CONFLICT (id) DO UPDATE SET n = 2`)
	require.NoError(t, err)
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM a WHERE id = $1`, 1)
	b.Queue(`SELECT 1`)
	require.NoError(t, conn.SendBatch(ctx, b).Close())
	require.Equal(t, []string{"a", "b"}, counter.Written())
	require.Equal(t, 3, counter.Queries(), "a batch is one round trip")
	require.Zero(t, counter.Transactions())

	// A filter picks what is counted.
	counter.Reset()
	counter.Filter = pgtest.Marked
	_, err = conn.Exec(ctx, `SELECT 1`)
	require.NoError(t, err)
	_, err = conn.Exec(pgtest.Mark(ctx), `SELECT 2`)
	require.NoError(t, err)
	require.Equal(t, map[string]int{"SELECT 2": 1}, counter.Statements())
}
