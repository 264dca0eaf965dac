package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/metrics"
	"github.com/meeboter/meeboter/pkg/store"
)

func TestMetricsSnapshot(t *testing.T) {
	t.Parallel()
	st, b := setup(t)
	ctx := context.Background()
	for range 3 {
		b.create(t, "acme")
	}
	admitted, err := st.Admit(ctx, store.PlatformLimit{Platform: "local", Limit: 1}, t0)
	require.NoError(t, err)
	require.Len(t, admitted, 1)
	_, err = st.ClaimSlot(ctx, "free-slot", "zoom", "spec", 5, t0)
	require.NoError(t, err)

	snap, err := st.MetricsSnapshot(ctx)
	require.NoError(t, err)
	require.ElementsMatch(t, []metrics.BotCount{{Status: string(store.StatusQueued), N: 2},
		{Status: string(store.StatusDeploying), Platform: "local", N: 1}}, snap.Bots)
	require.Equal(t, []metrics.SlotCount{{State: string(store.SlotCreating), MeetingPlatform: "zoom", N: 1}}, snap.Slots)
	require.Equal(t, 2, snap.QueueLength)
	require.NotNil(t, snap.OldestQueuedAt)
	// The bots were queued at t0 (the fixed test clock), long before now.
	require.InDelta(t, time.Since(t0).Seconds(), snap.TakenAt.Sub(*snap.OldestQueuedAt).Seconds(), 5)
	jobs := map[string]int{}
	for _, j := range snap.Jobs {
		jobs[j.Queue+"/"+j.State] += j.N
	}
	require.Positive(t, jobs["reconcile/available"], "the creates' reconcile jobs")
}
