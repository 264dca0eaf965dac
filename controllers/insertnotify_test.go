package controllers_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/controllers"
	"github.com/meeboter/meeboter/hack/devenv/storetest"
)

// River's client notifies producers of an insert at most once per
// FetchCooldown and drops the rest: a job inserted right after another
// would wait for the next poll. The Enqueuer notifies such an insert
// itself, so every commit of an insert is heard.
func TestEveryJobInsertNotifiesProducers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := storetest.NewPool(t)
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{FetchCooldown: time.Minute, FetchPollInterval: time.Hour})
	require.NoError(t, err)
	enq := controllers.NewEnqueuer(client)
	enq.FetchCooldown = time.Minute

	conn, err := pgx.ConnectConfig(ctx, pool.Config().ConnConfig)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	var schema string
	require.NoError(t, conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema))
	_, err = conn.Exec(ctx, `LISTEN "`+schema+`.river_insert"`)
	require.NoError(t, err)

	for i := range 3 { // all within a minute of the first
		require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			return enq.EnqueueReconcileTx(ctx, tx, uuid.New())
		}))
		waitCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		n, err := conn.WaitForNotification(waitCtx)
		cancel()
		require.NoError(t, err, "insert %d was not notified", i)
		require.JSONEq(t, `{"queue": "reconcile"}`, n.Payload)
	}
}
