package pool_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/store"
)

// Between two lists, the pool acts on what the database says: a claimed
// slot is started, a container asking for work marks its start finished,
// and a released slot is stopped, without one list call (Coolify's rate
// limit is the pool's budget). What only Coolify can tell — the container
// seen exited — waits for the next list.
func TestQuickPassesActWithoutListing(t *testing.T) {
	t.Parallel()
	o := defaultOpts()
	o.manualPool, o.minIdle = true, 1
	b := setup(t, o)
	ctx := context.Background()
	require.Eventually(t, func() bool {
		b.passes(t, 1)
		return b.slotStates(t)[store.SlotIdle] == 3
	}, 10*time.Second, 20*time.Millisecond, "an idle slot per meeting platform")
	b.passes(t, 1) // every slot's observation recorded
	b.ctl.Config.ListInterval = time.Hour
	calls := func(op string) int { return b.sim.Stats().Calls[op] }
	lists, starts, stops := calls("GET /applications"), calls("POST /applications/{uuid}/start"), calls("POST /applications/{uuid}/stop")

	v := b.CreateBot(t, meetURL, map[string]any{"call_seconds": 1})
	meet := func() store.PoolSlot {
		for _, s := range b.slots(t) {
			if s.MeetingPlatform == "google-meet" {
				return s
			}
		}
		t.Fatal("no google-meet slot")
		return store.PoolSlot{}
	}
	require.Eventually(t, func() bool {
		b.passes(t, 1)
		return meet().State == store.SlotBusy
	}, 10*time.Second, 20*time.Millisecond, "claimed, started and seen running through its container's ask")
	require.Equal(t, "running:unknown", *meet().Observed, "the ask is the observation")
	require.Equal(t, starts+1, calls("POST /applications/{uuid}/start"))

	b.WaitStatus(t, v.ID, 20*time.Second, store.StatusDone)
	require.Eventually(t, func() bool {
		b.passes(t, 1)
		return calls("POST /applications/{uuid}/stop") == stops+1
	}, 10*time.Second, 20*time.Millisecond, "the released slot is stopped")
	require.Equal(t, store.SlotStopping, meet().State, "exited is Coolify's to tell")
	require.Equal(t, lists, calls("GET /applications"), "no list between lists")

	b.ctl.Config.ListInterval = 0 // the list is due
	require.Eventually(t, func() bool {
		_, err := b.ctl.RunOnce(ctx)
		require.NoError(t, err)
		return meet().State == store.SlotIdle
	}, 10*time.Second, 20*time.Millisecond)
	require.Greater(t, calls("GET /applications"), lists)
}
