package pool_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/controllers/pool"
	"github.com/meeboter/meeboter/hack/devenv/fakeclock"
	"github.com/meeboter/meeboter/pkg/api"
	"github.com/meeboter/meeboter/pkg/store"
)

// passes runs n pool passes, as the leader would.
func (b *testBundle) passes(t *testing.T, n int) {
	t.Helper()
	for range n {
		_, err := b.ctl.RunOnce(context.Background())
		require.NoError(t, err)
	}
}

func (b *testBundle) idleSlot(t *testing.T, mp string) store.PoolSlot {
	t.Helper()
	for _, s := range b.slots(t) {
		if s.MeetingPlatform == mp && s.State == store.SlotIdle {
			return s
		}
	}
	t.Fatalf("no idle %s slot in %+v", mp, b.slots(t))
	return store.PoolSlot{}
}

func TestMinIdleAndPoolStats(t *testing.T) {
	t.Parallel()
	o := defaultOpts()
	o.minIdle = 1
	b := setup(t, o)
	require.Eventually(t, func() bool {
		var seed api.SeedPoolStats
		b.Call(t, http.MethodGet, "/api/bots/pool-stats", nil, &seed)
		return seed == api.SeedPoolStats{Total: 3, Idle: 3}
	}, 20*time.Second, 50*time.Millisecond, "one idle slot per meeting platform")
	var view api.PoolView
	require.Equal(t, http.StatusOK, b.Call(t, http.MethodGet, "/api/v1/pool", nil, &view))
	require.Len(t, view.Pools, 3)
	for _, p := range view.Pools {
		require.Equal(t, map[string]int{"IDLE": 1}, p.Slots, p.MeetingPlatform)
		require.Zero(t, p.QueueLength)
	}

	v := b.CreateBot(t, meetURL, map[string]any{"call_seconds": 0})
	b.WaitStatus(t, v.ID, 20*time.Second, store.StatusInCall)
	require.Eventually(t, func() bool {
		var seed api.SeedPoolStats
		b.Call(t, http.MethodGet, "/api/bots/pool-stats", nil, &seed)
		// The Meet slot is busy, and a new idle one keeps the minimum.
		return seed.Busy == 1 && seed.Idle == 3 && seed.Total == 4
	}, 20*time.Second, 50*time.Millisecond)
}

func TestDriftConvergesOnIdleSlots(t *testing.T) {
	t.Parallel()
	o := defaultOpts()
	o.minIdle, o.manualPool = 1, true
	b := setup(t, o)
	b.passes(t, 1)
	slot := b.idleSlot(t, "google-meet")
	require.Zero(t, b.drift(pool.DriftSpec), "new slots have the current spec")

	// A new image tag is rolled out: idle slots converge, no new slots.
	for i := range b.ctl.Config.Specs {
		b.ctl.Config.Specs[i].Tag = "v2"
	}
	b.passes(t, 1)
	require.InDelta(t, 3, b.drift(pool.DriftSpec), 0, "one correction per idle slot")
	app, err := b.apps().Client.GetApplication(context.Background(), *slot.AppUUID)
	require.NoError(t, err)
	require.Equal(t, "v2", app.Tag)
	after := b.idleSlot(t, "google-meet")
	require.Equal(t, slot.ID, after.ID)
	require.NotEqual(t, slot.SpecHash, after.SpecHash)
	require.Len(t, b.slots(t), 3)
	b.passes(t, 1)
	require.InDelta(t, 3, b.drift(pool.DriftSpec), 0, "a converged slot is not corrected again")
}

func TestIdleSlotsScaleDownAfterTTL(t *testing.T) {
	t.Parallel()
	o := defaultOpts()
	o.minIdle, o.manualPool = 1, true
	b := setup(t, o)
	// The pool's clock writes the slots' last use and measures their idle
	// time: a fake one ages them. (Passes are the test's alone: manualPool.)
	fc := fakeclock.New(time.Now())
	b.ctl.Clock = fc
	b.passes(t, 1)
	slot := b.idleSlot(t, "zoom")
	b.ctl.Config.MinIdle, b.ctl.Config.IdleTTL = 0, time.Millisecond
	fc.Advance(5 * time.Millisecond)
	b.passes(t, 1) // IDLE above the minimum after the TTL → DELETING
	require.Eventually(t, func() bool {
		b.passes(t, 1)
		return len(b.slots(t)) == 0
	}, 10*time.Second, 50*time.Millisecond, "idle slots were not deleted")
	require.False(t, b.appExists(*slot.AppUUID), "their applications are deleted too")
}

func TestVanishedSlotIsReplaced(t *testing.T) {
	t.Parallel()
	o := defaultOpts()
	o.minIdle, o.manualPool = 1, true
	b := setup(t, o)
	b.passes(t, 1)
	old := b.idleSlot(t, "zoom")
	// Someone deletes the application behind our back.
	require.NoError(t, b.apps().Delete(context.Background(), *old.AppUUID))
	require.Eventually(t, func() bool {
		b.passes(t, 1)
		for _, s := range b.slots(t) {
			if s.MeetingPlatform == "zoom" && s.State == store.SlotIdle && *s.AppUUID != *old.AppUUID {
				return true
			}
		}
		return false
	}, 10*time.Second, 50*time.Millisecond, "the vanished slot was not replaced: %+v", b.slots(t))
	require.InDelta(t, 1, b.drift(pool.DriftVanished), 0)
	require.Zero(t, b.drift(pool.DriftErrorReplaced), "a replaced slot counts under one kind")
}

func TestFailingSlotIsReplaced(t *testing.T) {
	t.Parallel()
	o := defaultOpts()
	o.minIdle, o.manualPool = 1, true
	b := setup(t, o)
	b.passes(t, 1)
	old := b.idleSlot(t, "zoom")
	// The slot failed MaxErrors (3) times: it is replaced, not retried.
	ctx, now := context.Background(), time.Now()
	from := store.SlotIdle
	for range 3 {
		ok, err := b.store.UpdateSlot(ctx, store.SlotUpdate{ID: old.ID, From: from, To: store.SlotError, Error: new("boom")}, now)
		require.NoError(t, err)
		require.True(t, ok)
		from = store.SlotError
	}
	require.Eventually(t, func() bool {
		b.passes(t, 1)
		for _, s := range b.slots(t) {
			if s.MeetingPlatform == "zoom" && s.State == store.SlotIdle && *s.AppUUID != *old.AppUUID {
				return !b.appExists(*old.AppUUID)
			}
		}
		return false
	}, 10*time.Second, 50*time.Millisecond, "the failing slot was not replaced: %+v", b.slots(t))
	require.InDelta(t, 1, b.drift(pool.DriftErrorReplaced), 0)
	require.Zero(t, b.drift(pool.DriftVanished), "its application was deleted by the pool, not lost")
}

func TestStopNotSeenExitedIsReissued(t *testing.T) {
	t.Parallel()
	o := defaultOpts()
	o.minIdle, o.manualPool = 1, true
	b := setup(t, o)
	b.passes(t, 1)
	slot := b.idleSlot(t, "zoom")
	ctx := context.Background()
	// Released, as ReleaseSlot does: the next pass issues the stop.
	ok, err := b.store.UpdateSlot(ctx, store.SlotUpdate{ID: slot.ID, From: store.SlotIdle, To: store.SlotStopping}, time.Now())
	require.NoError(t, err)
	require.True(t, ok)
	b.passes(t, 1)
	require.Zero(t, b.drift(pool.DriftStopReissued), "the first stop is no correction")

	// That stop was a minute ago, and the container was never seen exited.
	ok, err = b.store.UpdateSlot(ctx, store.SlotUpdate{ID: slot.ID, From: store.SlotStopping, To: store.SlotStopping,
		StopRequested: true}, time.Now().Add(-time.Minute))
	require.NoError(t, err)
	require.True(t, ok)
	b.passes(t, 1)
	require.InDelta(t, 1, b.drift(pool.DriftStopReissued), 0)
	reissued := b.slots(t)
	require.Equal(t, store.SlotStopping, slotByID(t, reissued, slot.ID).State)
	require.WithinDuration(t, time.Now(), *slotByID(t, reissued, slot.ID).StopRequestedAt, 10*time.Second,
		"the stop request is renewed")
}

func slotByID(t *testing.T, slots []store.PoolSlot, id int64) store.PoolSlot {
	t.Helper()
	for _, s := range slots {
		if s.ID == id {
			return s
		}
	}
	t.Fatalf("no slot %d in %+v", id, slots)
	return store.PoolSlot{}
}
