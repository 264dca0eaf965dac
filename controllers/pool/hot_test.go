package pool_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/api"
	"github.com/meeboter/meeboter/pkg/store"
)

// Scheduled bots due within the look-ahead get hot slots before they are
// admitted: started through the concurrency cap and left running idle, so
// each bot is served at its container's next ask, not by a start. Once
// the bots are gone and nothing is due, the hot containers are stopped.
func TestScheduledBotsGetHotSlotsAheadOfTime(t *testing.T) {
	t.Parallel()
	o := defaultOpts()
	o.lookAhead = time.Minute
	// Admitted 3 s before join_at, a bot whose slot must start (5 s) is
	// late; one that finds its slot running (asking every second) is not.
	o.sim.ColdStart, o.sim.WarmStart = 5*time.Second, 5*time.Second
	o.bot.JoinLeadTime = 3 * time.Second
	b := setup(t, o)
	joinAt := time.Now().Add(20 * time.Second)
	var bots []api.BotView
	for range 3 {
		var v api.BotView
		require.Equal(t, http.StatusCreated, b.Call(t, http.MethodPost, "/api/v1/bots", map[string]any{
			"meeting_url": meetURL, "join_at": joinAt.Format(time.RFC3339Nano),
			"metadata": map[string]any{"simulate": map[string]any{"call_seconds": 0.5}}}, &v))
		bots = append(bots, v)
	}
	require.Eventually(t, func() bool { return b.hotSlots(t, "google-meet") == 3 }, 15*time.Second, 50*time.Millisecond,
		"three idle google-meet slots running before the bots are admitted")
	for _, v := range bots {
		require.Equal(t, store.StatusScheduled, b.WaitStatus(t, v.ID, time.Second, store.StatusScheduled).Status)
	}
	starts := b.sim.Stats().Calls["POST /applications/{uuid}/start"]

	for _, v := range bots {
		done := b.WaitStatus(t, v.ID, 30*time.Second, store.StatusDone, store.StatusFatal)
		require.Equal(t, store.StatusDone, done.Status)
		require.NotNil(t, done.JoinLatenessSeconds)
		require.Less(t, *done.JoinLatenessSeconds, 1.0, "served by a hot slot: on time though a start takes 5 s")
		require.GreaterOrEqual(t, *done.JoinLatenessSeconds, 0.0, "and not early")
	}
	require.Equal(t, starts, b.sim.Stats().Calls["POST /applications/{uuid}/start"], "no slot was started for the bots: they found them running")
	require.Eventually(t, func() bool {
		for _, a := range b.sim.Apps() {
			if a.Running {
				return false
			}
		}
		return true
	}, 30*time.Second, 100*time.Millisecond, "with nothing due, no container runs idle")
}

// hotSlots counts the idle slots of a meeting platform whose container runs.
func (b *testBundle) hotSlots(t *testing.T, mp string) int {
	t.Helper()
	running := map[string]bool{}
	for _, a := range b.sim.Apps() {
		running[a.UUID] = a.Running
	}
	n := 0
	for _, s := range b.slots(t) {
		if s.MeetingPlatform == mp && s.State == store.SlotIdle && s.AppUUID != nil && running[*s.AppUUID] {
			n++
		}
	}
	return n
}

// Hot starts through the concurrency cap (4 here) are shared between the
// meeting platforms, and a start seen finished frees its place in the same
// pass: back-to-back waves need every round of starts, and the pool's
// period is not one of them.
func TestHotStartsAreSharedAndReuseFinishedPlaces(t *testing.T) {
	t.Parallel()
	o := defaultOpts()
	o.manualPool, o.lookAhead = true, time.Minute
	b := setup(t, o)
	ctx := context.Background()
	joinAt := time.Now().Add(40 * time.Second)
	for _, url := range []string{meetURL, meetURL, zoomURL, zoomURL, teamsURL, teamsURL} {
		require.Equal(t, http.StatusCreated, b.Call(t, http.MethodPost, "/api/v1/bots", map[string]any{
			"meeting_url": url, "join_at": joinAt.Format(time.RFC3339Nano)}, nil))
	}
	require.Eventually(t, func() bool {
		_, err := b.ctl.RunOnce(ctx)
		require.NoError(t, err)
		return b.slotStates(t)[store.SlotIdle] == 6
	}, 10*time.Second, 20*time.Millisecond, "six slots created")

	_, err := b.ctl.RunOnce(ctx)
	require.NoError(t, err)
	starting := map[string]int{}
	for _, s := range b.slots(t) {
		if s.State == store.SlotStarting {
			starting[s.MeetingPlatform]++
		}
	}
	require.Equal(t, map[string]int{"google-meet": 2, "microsoft-teams": 1, "zoom": 1}, starting,
		"four starts (the cap), every meeting platform served")
	for _, s := range b.slots(t) {
		require.False(t, s.State == store.SlotStarting && s.StartUnknown, "slot %s: a hot start answered 200 is known", s.Name)
	}
	deployments := b.sim.Stats().Calls["GET /deployments/applications/{uuid}"]

	require.Eventually(t, func() bool { return b.runningApps() == 4 }, 10*time.Second, 20*time.Millisecond)
	_, err = b.ctl.RunOnce(ctx)
	require.NoError(t, err)
	states := b.slotStates(t)
	require.Equal(t, 4, states[store.SlotIdle], "the finished starts are hot idle slots")
	require.Equal(t, 2, states[store.SlotStarting], "and their places went to the last two in the same pass")
	require.Equal(t, deployments, b.sim.Stats().Calls["GET /deployments/applications/{uuid}"],
		"no start was settled from Coolify's deployments: none was unknown")
}

func (b *testBundle) slotStates(t *testing.T) map[store.SlotState]int {
	t.Helper()
	states := map[store.SlotState]int{}
	for _, s := range b.slots(t) {
		states[s.State]++
	}
	return states
}

func (b *testBundle) runningApps() int {
	n := 0
	for _, a := range b.sim.Apps() {
		if a.Running {
			n++
		}
	}
	return n
}
