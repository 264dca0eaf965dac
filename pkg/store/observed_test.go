package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/hack/devenv/storetest"
	"github.com/meeboter/meeboter/pkg/store"
)

// ObservedDeployments is LiveDeployments with the heartbeat of each bot's
// attempt.
func TestObservedDeploymentsCarryHeartbeats(t *testing.T) {
	t.Parallel()
	st, b := setup(t)
	ctx := context.Background()
	admit := func(platform string) uuid.UUID {
		bot := b.create(t, "acme")
		admitted, err := st.Admit(ctx, store.PlatformLimit{Platform: platform, Limit: 10}, t0)
		require.NoError(t, err)
		require.Equal(t, []uuid.UUID{bot.ID}, admitted)
		storetest.BeginCreate(t, st, bot.ID, 1, "t-"+bot.ID.String(), t0)
		require.NoError(t, st.MarkRunning(ctx, bot.ID, 1, "arn-"+bot.ID.String(), t0))
		return bot.ID
	}
	beating, silent, gone := admit("aws"), admit("aws"), admit("aws")
	admit("local")
	at := t0.Add(time.Minute)
	_, err := st.Heartbeat(ctx, "t-"+beating.String(), beating, at)
	require.NoError(t, err)
	require.NoError(t, st.MarkGone(ctx, gone, 1, at))

	deps, err := st.ObservedDeployments(ctx, "aws")
	require.NoError(t, err)
	live, err := st.LiveDeployments(ctx, "aws")
	require.NoError(t, err)
	require.Len(t, deps, 2)
	beats := map[uuid.UUID]*time.Time{}
	for i, d := range deps {
		require.Equal(t, "aws", d.Platform)
		beats[d.BotID] = d.LastHeartbeatAt
		require.Contains(t, live, d.Deployment, "the same rows as LiveDeployments (%d)", i)
	}
	require.Contains(t, beats, silent)
	require.Nil(t, beats[silent])
	require.NotNil(t, beats[beating])
	require.WithinDuration(t, at, *beats[beating], 0)
}
