package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/store"
)

// The heartbeat finds its attempt by the token's unique index and its bot by
// the primary key even when the statistics say nothing is live (analyzed
// before a burst): the plan Postgres caches for the statement must not scan
// the partial indexes of every live deployment or unfinished bot.
func TestHeartbeatPlanUsesTheTokenIndexWithStaleStatistics(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	ctx := context.Background()
	pool := st.Pool()
	// 2,000 bots whose attempts ended, analyzed; then 2,000 live ones.
	insert := func(status, state string) {
		_, err := pool.Exec(ctx, `WITH b AS (INSERT INTO bots (id, owner, meeting_url, meeting_platform, bot_name,
				automatic_leave, recording, status, status_reason, ended_at, platform, current_attempt, created_at, updated_at)
			SELECT gen_random_uuid(), 'acme', 'https://meet.google.com/abc-defg-hij', 'google-meet', 'b', '{}',
				'{"enabled":false,"mode":"none"}', $1::text, CASE WHEN $1 = 'DONE' THEN 'completed' END,
				CASE WHEN $1 = 'DONE' THEN now() END, 'aws', 1, now(), now()
			FROM generate_series(1, 2000) RETURNING id)
			INSERT INTO deployments (bot_id, attempt, platform, name, state, token_hash, created_at, updated_at)
			SELECT id, 1, 'aws', 'meeboter-' || id, $2, sha256(id::text::bytea), now(), now() FROM b`, status, state)
		require.NoError(t, err)
	}
	insert("DONE", "GONE")
	_, err := pool.Exec(ctx, `ANALYZE deployments; ANALYZE bots`)
	require.NoError(t, err)
	insert("IN_CALL", "RUNNING")
	var id string
	require.NoError(t, pool.QueryRow(ctx, `SELECT bot_id::text FROM deployments WHERE state = 'RUNNING' LIMIT 1`).Scan(&id))

	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(ctx, `SET plan_cache_mode = force_generic_plan`)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `PREPARE hb(bytea, uuid, timestamptz) AS `+store.HeartbeatSQL)
	require.NoError(t, err)
	// A uuid's text is safe to inline; EXECUTE takes no bind parameters.
	rows, err := conn.Query(ctx, "EXPLAIN EXECUTE hb(sha256('"+id+"'::bytea), '"+id+"', now())")
	require.NoError(t, err)
	var plan []string
	for rows.Next() {
		var line string
		require.NoError(t, rows.Scan(&line))
		plan = append(plan, line)
	}
	require.NoError(t, rows.Err())
	text := strings.Join(plan, "\n")
	require.Contains(t, text, "deployments_token_hash_key", text)
	require.Contains(t, text, "bots_pkey", text)
	require.NotContains(t, text, "deployments_live_platform", text)
	require.NotContains(t, text, "bots_owner_unfinished", text)
}
