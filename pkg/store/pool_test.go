package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/store"
)

func TestClaimSlotReservesUniqueNamesUnderConcurrency(t *testing.T) {
	t.Parallel()
	st, bundle := setup(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	slots := make([]store.PoolSlot, 50)
	errs := make([]error, 50)
	for i := range 50 {
		wg.Go(func() {
			slots[i], errs[i] = st.ClaimSlot(ctx, fmt.Sprintf("meeboter-bot-%d-1", i), "zoom", "spec1", 40, t0)
		})
	}
	wg.Wait()
	names := map[string]bool{}
	full := 0
	for i, err := range errs {
		if err != nil {
			require.ErrorIs(t, err, store.ErrNoSlot)
			full++
			continue
		}
		require.Equal(t, store.SlotCreating, slots[i].State)
		require.False(t, names[slots[i].Name], "two claims got slot %s", slots[i].Name)
		names[slots[i].Name] = true
	}
	require.Len(t, names, 40, "exactly the slots needed, up to the maximum")
	require.Equal(t, 10, full)
	require.True(t, names["pool-zoom-001"] && names["pool-zoom-040"])
	require.Equal(t, 40, bundle.count(t, `SELECT count(DISTINCT assigned_deployment) FROM pool_slots`))
}

func TestClaimSlotPrefersIdleOfTheSameTypeAndAdopts(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	ctx := context.Background()
	meet, err := st.ReserveIdleSlots(ctx, "google-meet", "spec1", 1, 5, t0)
	require.NoError(t, err)
	require.Equal(t, 1, meet)
	slots, err := st.Slots(ctx)
	require.NoError(t, err)
	idle := slots[0]
	ok, err := st.UpdateSlot(ctx, store.SlotUpdate{ID: idle.ID, From: store.SlotCreating, To: store.SlotIdle, AppUUID: new("app1")}, t0)
	require.NoError(t, err)
	require.True(t, ok)

	zoom, err := st.ClaimSlot(ctx, "d-zoom", "zoom", "spec1", 5, t0)
	require.NoError(t, err)
	require.Equal(t, "pool-zoom-001", zoom.Name, "a Zoom bot never gets a Google Meet slot")
	drifted, err := st.ClaimSlot(ctx, "d-meet-other-spec", "google-meet", "spec2", 5, t0)
	require.NoError(t, err)
	require.Equal(t, "pool-google-meet-002", drifted.Name, "nor a slot of another spec")

	got, err := st.ClaimSlot(ctx, "d-meet", "google-meet", "spec1", 5, t0)
	require.NoError(t, err)
	require.Equal(t, idle.ID, got.ID)
	require.Equal(t, store.SlotStarting, got.State)
	again, err := st.ClaimSlot(ctx, "d-meet", "google-meet", "spec1", 5, t0.Add(time.Second))
	require.NoError(t, err)
	require.Equal(t, got.ID, again.ID, "a retried claim adopts its slot")
}

// A claim takes the slot that serves its bot soonest: a hot one (idle, its
// container running), then one whose hot start is under way (its start
// kept: starting it again would redeploy it), then a stopped idle one.
func TestClaimSlotPrefersRunningThenStartingThenStopped(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	ctx := context.Background()
	_, err := st.ReserveIdleSlots(ctx, "zoom", "spec1", 3, 5, t0)
	require.NoError(t, err)
	slots, err := st.Slots(ctx)
	require.NoError(t, err)
	require.Len(t, slots, 3)
	for i, s := range slots {
		ok, err := st.UpdateSlot(ctx, store.SlotUpdate{ID: s.ID, From: store.SlotCreating, To: store.SlotIdle,
			AppUUID: new(fmt.Sprint("app", i))}, t0)
		require.NoError(t, err)
		require.True(t, ok)
	}
	stopped, starting, running := slots[0], slots[1], slots[2]
	require.NoError(t, st.RecordSlotObservation(ctx, stopped.ID, "exited", t0))
	ok, err := st.UpdateSlot(ctx, store.SlotUpdate{ID: starting.ID, From: store.SlotIdle, To: store.SlotStarting,
		StartRequested: true, StartUnknown: new(true)}, t0)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, st.RecordSlotObservation(ctx, running.ID, "running:healthy", t0))

	got, err := st.ClaimSlot(ctx, "d1", "zoom", "spec1", 5, t0.Add(time.Second))
	require.NoError(t, err)
	require.Equal(t, running.ID, got.ID)
	require.Equal(t, store.SlotBusy, got.State, "its container picks the work up at its next ask")

	got, err = st.ClaimSlot(ctx, "d2", "zoom", "spec1", 5, t0.Add(time.Second))
	require.NoError(t, err)
	require.Equal(t, starting.ID, got.ID)
	require.Equal(t, store.SlotStarting, got.State)
	require.NotNil(t, got.StartRequestedAt, "the hot start in flight is its start")
	require.True(t, got.StartRequestedAt.Equal(t0))
	require.True(t, got.StartUnknown, "and what is known of it is kept")

	got, err = st.ClaimSlot(ctx, "d3", "zoom", "spec1", 5, t0.Add(time.Second))
	require.NoError(t, err)
	require.Equal(t, stopped.ID, got.ID)
	require.Equal(t, store.SlotStarting, got.State)
	require.Nil(t, got.StartRequestedAt, "a stopped slot waits for a start")
}

func TestReleaseSlot(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	ctx := context.Background()
	slot, err := st.ClaimSlot(ctx, "d1", "zoom", "spec1", 5, t0)
	require.NoError(t, err)
	// Released while still being created: back to the pool at once.
	require.NoError(t, st.ReleaseSlot(ctx, "d1", t0))
	_, held, err := st.SlotOf(ctx, "d1")
	require.NoError(t, err)
	require.False(t, held)

	ok, err := st.UpdateSlot(ctx, store.SlotUpdate{ID: slot.ID, From: store.SlotCreating, To: store.SlotIdle, AppUUID: new("app1")}, t0)
	require.NoError(t, err)
	require.True(t, ok)
	_, err = st.ClaimSlot(ctx, "d2", "zoom", "spec1", 5, t0)
	require.NoError(t, err)
	require.NoError(t, st.ReleaseSlot(ctx, "d2", t0))
	got, held, err := st.SlotOf(ctx, "d2")
	require.NoError(t, err)
	require.True(t, held, "a started slot stays with its deployment until it is seen stopped")
	require.Equal(t, store.SlotStopping, got.State)
	_, err = st.ClaimSlot(ctx, "d3", "zoom", "spec1", 1, t0)
	require.ErrorIs(t, err, store.ErrNoSlot, "a stopping slot is not claimable")
}

func TestSlotAssignment(t *testing.T) {
	t.Parallel()
	st, bundle := setup(t)
	ctx := context.Background()
	bot := bundle.admitOne(t, "attempt-token")
	name := store.DeploymentName(bot.ID, 1)
	slot, err := st.ClaimSlot(ctx, name, "google-meet", "spec1", 5, t0)
	require.NoError(t, err)
	ok, err := st.UpdateSlot(ctx, store.SlotUpdate{ID: slot.ID, From: store.SlotCreating, Assigned: &name, To: store.SlotStarting,
		AppUUID: new("app1"), TokenHash: store.HashSecret("slot-token")}, t0)
	require.NoError(t, err)
	require.True(t, ok)

	_, err = st.SlotAssignment(ctx, "app1", "wrong", "unused", t0)
	require.ErrorIs(t, err, store.ErrUnauthenticated)
	a, err := st.SlotAssignment(ctx, "app1", "slot-token", "unused", t0)
	require.NoError(t, err)
	require.True(t, a.Found)
	require.Equal(t, store.BotAuth{BotID: bot.ID, Attempt: 1}, a.Auth)
	require.Equal(t, "attempt-token", a.Token, "the attempt's own token, minted once")
	again, err := st.SlotAssignment(ctx, "app1", "slot-token", "unused", t0)
	require.NoError(t, err)
	require.Equal(t, a, again, "an answer lost on the way is asked again and gets the same token")

	// Finished: a restarted container of this slot gets nothing to run.
	_, err = st.FinishBot(ctx, bot.ID, store.StatusDone, store.ReasonCompleted, t0)
	require.NoError(t, err)
	a, err = st.SlotAssignment(ctx, "app1", "slot-token", "unused", t0)
	require.NoError(t, err)
	require.False(t, a.Found)
	require.False(t, a.Restarted)
}

// slotBot is a bot on a started slot (app uuid app), its attempt's token tok.
func slotBot(t *testing.T, b *testBundle, app, tok string) store.Bot {
	t.Helper()
	ctx := context.Background()
	bot := b.admitOne(t, tok)
	name := store.DeploymentName(bot.ID, 1)
	slot, err := b.store.ClaimSlot(ctx, name, "google-meet", "spec1", 5, t0)
	require.NoError(t, err)
	ok, err := b.store.UpdateSlot(ctx, store.SlotUpdate{ID: slot.ID, From: slot.State, Assigned: &name, To: store.SlotBusy,
		AppUUID: new(app), TokenHash: store.HashSecret("slot-" + app)}, t0)
	require.NoError(t, err)
	require.True(t, ok)
	return bot
}

func TestSlotContainerRestartedMidMeetingEndsTheAttempt(t *testing.T) {
	t.Parallel()
	st, bundle := setup(t)
	ctx := context.Background()
	auth := func(b store.Bot) store.BotAuth { return store.BotAuth{BotID: b.ID, Attempt: 1} }

	// In the call: a container that asks again lost the meeting.
	inCall := slotBot(t, bundle, "app-in-call", "tok-in-call")
	_, err := st.ReportStatus(ctx, auth(inCall), store.StatusJoiningCall, "", t0)
	require.NoError(t, err)
	_, err = st.ReportStatus(ctx, auth(inCall), store.StatusInCall, "", t0)
	require.NoError(t, err)
	a, err := st.SlotAssignment(ctx, "app-in-call", "slot-app-in-call", "unused", t0.Add(time.Second))
	require.NoError(t, err)
	require.Equal(t, store.Assignment{Auth: auth(inCall), Restarted: true}, a)
	got, err := st.GetBot(ctx, "acme", inCall.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusFatal, got.Status)
	require.Equal(t, store.ReasonContainerRestarted, *got.StatusReason)

	// Joining, not yet in the call: the workload counts as exited, so the
	// reconciler gives the bot a new attempt; the bot itself goes on.
	joining := slotBot(t, bundle, "app-joining", "tok-joining")
	_, err = st.ReportStatus(ctx, auth(joining), store.StatusJoiningCall, "", t0)
	require.NoError(t, err)
	a, err = st.SlotAssignment(ctx, "app-joining", "slot-app-joining", "unused", t0.Add(time.Second))
	require.NoError(t, err)
	require.True(t, a.Restarted)
	require.False(t, a.Found)
	b, d, err := st.LoadBot(ctx, joining.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusJoiningCall, b.Status)
	require.Equal(t, store.ObservedExited, *d.Observed)
	require.Nil(t, d.PendingToken, "the token was cleared at the first status")
}
