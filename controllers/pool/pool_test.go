package pool_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/controllers/pool"
	"github.com/meeboter/meeboter/hack/devenv/fakeclock"
	"github.com/meeboter/meeboter/pkg/botproto"
	"github.com/meeboter/meeboter/pkg/platform/coolify"
	"github.com/meeboter/meeboter/pkg/store"
)

func TestPoolBotReachesDoneAndSlotReturns(t *testing.T) {
	t.Parallel()
	b := setup(t, defaultOpts())
	v := b.CreateBot(t, meetURL, nil)
	done := b.WaitStatus(t, v.ID, 30*time.Second, store.StatusDone, store.StatusFatal)
	require.Equal(t, store.StatusDone, done.Status)
	require.Equal(t, store.ReasonCompleted, *done.StatusReason)
	slots := b.waitAllIdle(t, 20*time.Second)
	require.Len(t, slots, 1)
	require.Equal(t, "pool-google-meet-001", slots[0].Name)

	// Warm reuse: a second bot gets the same slot, no new application.
	v2 := b.CreateBot(t, meetURL, nil)
	require.Equal(t, store.StatusDone, b.WaitStatus(t, v2.ID, 30*time.Second, store.StatusDone, store.StatusFatal).Status)
	require.Len(t, b.waitAllIdle(t, 20*time.Second), 1)
	require.Len(t, b.sim.Apps(), 1)
}

func TestZoomBotNeverGetsGoogleMeetSlot(t *testing.T) {
	t.Parallel()
	o := defaultOpts()
	o.minIdle = 1 // an idle slot of every meeting platform is ready
	b := setup(t, o)
	require.Eventually(t, func() bool {
		idle := 0
		for _, s := range b.slots(t) {
			if s.State == store.SlotIdle {
				idle++
			}
		}
		return idle == 3
	}, 20*time.Second, 50*time.Millisecond)
	v := b.CreateBot(t, zoomURL, map[string]any{"call_seconds": 5})
	b.WaitStatus(t, v.ID, 20*time.Second, store.StatusInCall)
	for _, s := range b.slots(t) {
		if s.AssignedDeployment != nil {
			require.Equal(t, "zoom", s.MeetingPlatform, "slot %s runs the Zoom bot", s.Name)
		}
	}
}

func TestFiftyBotsAtOnceOnEmptyPool(t *testing.T) {
	t.Parallel()
	o := defaultOpts()
	o.maxSlots = 60
	b := setup(t, o)
	var wg sync.WaitGroup
	ids := make([]uuid.UUID, 50)
	for i := range 50 {
		wg.Go(func() { ids[i] = b.CreateBot(t, meetURL, map[string]any{"call_seconds": 1}).ID })
	}
	wg.Wait()
	for _, id := range ids {
		done := b.WaitStatus(t, id, 2*time.Minute, store.StatusDone, store.StatusFatal)
		require.Equal(t, store.StatusDone, done.Status, "bot %s: %v", id, done.StatusReason)
	}
	slots := b.waitAllIdle(t, time.Minute)
	require.Len(t, slots, 50, "exactly the slots needed")
	names := map[string]bool{}
	for _, s := range slots {
		require.False(t, names[s.Name])
		names[s.Name] = true
	}
	require.Len(t, b.sim.Apps(), 50, "one application per slot")
	require.LessOrEqual(t, b.sim.Stats().MaxInProgress, 4, "at most COOLIFY_MAX_CONCURRENT_DEPLOYS starts at once")
	require.GreaterOrEqual(t, b.assignments.assigned(), 50, "every bot got its slot through an assignment (checked: never two bots on one slot)")
}

func TestBotFatalWhileStartingOrBusyReturnsSlot(t *testing.T) {
	t.Parallel()
	t.Run("starting", func(t *testing.T) {
		t.Parallel()
		o := defaultOpts()
		o.sim.ColdStart = 5 * time.Second // still starting when the bot's lifetime ends
		o.bot.MaxBotLifetime, o.bot.LeaveTimeout = time.Second, 500*time.Millisecond
		b := setup(t, o)
		v := b.CreateBot(t, meetURL, nil)
		fatal := b.WaitStatus(t, v.ID, 30*time.Second, store.StatusDone, store.StatusFatal)
		require.Equal(t, store.ReasonMaxLifetime, *fatal.StatusReason)
		b.waitAllIdle(t, 30*time.Second)
	})
	t.Run("busy", func(t *testing.T) {
		t.Parallel()
		o := defaultOpts()
		o.bot.HeartbeatTimeout = time.Second
		b := setup(t, o)
		v := b.CreateBot(t, meetURL, map[string]any{"call_seconds": 0, "no_heartbeat": true})
		fatal := b.WaitStatus(t, v.ID, 30*time.Second, store.StatusDone, store.StatusFatal)
		require.Equal(t, store.ReasonHeartbeat, *fatal.StatusReason)
		for _, s := range b.waitAllIdle(t, 30*time.Second) {
			require.Nil(t, s.AssignedDeployment, "no slot stays assigned to a terminal bot")
		}
	})
}

func TestCancelAndLeaveStopTheSlotContainer(t *testing.T) {
	t.Parallel()
	b := setup(t, defaultOpts())
	for _, stop := range []struct{ method, suffix, reason string }{
		{http.MethodDelete, "", store.ReasonCancelled},
		{http.MethodPost, "/leave", store.ReasonRemoved},
	} {
		v := b.CreateBot(t, meetURL, map[string]any{"call_seconds": 0})
		b.WaitStatus(t, v.ID, 20*time.Second, store.StatusInCall)
		require.Equal(t, http.StatusAccepted, b.Call(t, stop.method, "/api/v1/bots/"+v.ID.String()+stop.suffix, nil, nil))
		done := b.WaitStatus(t, v.ID, 20*time.Second, store.StatusDone, store.StatusFatal)
		require.Equal(t, stop.reason, *done.StatusReason)
		b.waitAllIdle(t, 20*time.Second)
		require.Eventually(t, func() bool {
			for _, a := range b.sim.Apps() {
				if a.Running {
					return false
				}
			}
			return true
		}, 20*time.Second, 50*time.Millisecond, "the slot's container still runs")
	}
}

func TestRestartedContainerOfFinishedBotCannotRunMeetingAgain(t *testing.T) {
	t.Parallel()
	b := setup(t, defaultOpts())
	v := b.CreateBot(t, meetURL, nil)
	b.WaitStatus(t, v.ID, 30*time.Second, store.StatusDone)
	apps := b.sim.Apps()
	require.Len(t, apps, 1)
	env := apps[0].Env
	// The slot's container asks again, as a restarted one would.
	client := botproto.NewSlotClient(b.URL, env[botproto.EnvPoolSlotUUID], env[botproto.EnvPoolSlotToken])
	a, err := client.Assignment(context.Background())
	require.NoError(t, err)
	require.False(t, a.Assigned, "a finished bot's meeting is not handed out again")
	_, err = botproto.NewSlotClient(b.URL, env[botproto.EnvPoolSlotUUID], "wrong").Assignment(context.Background())
	var p *botproto.Problem
	require.True(t, errors.As(err, &p))
	require.Equal(t, http.StatusUnauthorized, p.Status)
}

// A cold start is progress: the deploy deadline moves while the slot is
// starting (issue 10: healthy slow deploys were killed at DEPLOY_TIMEOUT).
func TestSlowColdStartIsNotKilled(t *testing.T) {
	t.Parallel()
	o := defaultOpts()
	o.sim.ColdStart = 5 * time.Second // the image pull outlasts the deploy and heartbeat timeouts
	o.bot.HeartbeatTimeout = 2 * time.Second
	o.bot.DeployTimeout = 2 * time.Second
	b := setup(t, o)
	v := b.CreateBot(t, meetURL, nil)
	done := b.WaitStatus(t, v.ID, 30*time.Second, store.StatusDone, store.StatusFatal)
	require.Equal(t, store.StatusDone, done.Status, "reason %v", done.StatusReason)
}

func TestRateLimitStormAndServerErrorsBackOff(t *testing.T) {
	t.Parallel()
	b := setup(t, defaultOpts())
	b.sim.Storm429(2 * time.Second)
	// The background passes meet the storm, however slow the machine (the
	// client waits out the 429s' Retry-After, so a pass may well succeed).
	// Not a RunOnce of the test's own: it would race the loop's passes.
	require.Eventually(t, func() bool { return b.sim.Stats().Throttled > 0 }, 10*time.Second, 10*time.Millisecond,
		"no call met the storm")
	b.sim.SetErrorRate(0.2)
	ids := []uuid.UUID{}
	for range 5 {
		ids = append(ids, b.CreateBot(t, meetURL, nil).ID)
	}
	for _, id := range ids {
		done := b.WaitStatus(t, id, time.Minute, store.StatusDone, store.StatusFatal)
		require.Equal(t, store.StatusDone, done.Status, "reason %v", done.StatusReason)
	}
	require.Positive(t, b.sim.Stats().Throttled, "the storm happened")
}

func TestFailedListDeletesNothingAndFailsNoBot(t *testing.T) {
	t.Parallel()
	b := setup(t, defaultOpts())
	v := b.CreateBot(t, meetURL, map[string]any{"call_seconds": 0})
	b.WaitStatus(t, v.ID, 20*time.Second, store.StatusInCall)
	refused := b.sim.Stats().InjectedErrors // list calls refused so far (no other fault is on)
	b.sim.FailLists(1000)
	// A pass already past its list when lists began to fail has finished
	// once the background loop (one pass at a time) has had a list
	// refused. That refused pass was a full one, due a ListInterval after
	// the last good list, so ours (no list succeeds any more) lists too.
	b.waitListsRefused(t, refused+1)
	before := b.slots(t)
	_, err := b.ctl.RunOnce(context.Background())
	require.Error(t, err)
	// Background passes and observers fail too, meanwhile: the client tries
	// a list DefaultMaxRetries+1 times, so that many more refusals hold the
	// whole failure of at least one background pass after ours.
	b.waitListsRefused(t, b.sim.Stats().InjectedErrors+coolify.DefaultMaxRetries+1)
	require.Equal(t, before, b.slots(t), "a failed list changes no slot")
	require.Len(t, b.sim.Apps(), 1)
	require.False(t, b.sim.Apps()[0].Deleting)
	require.Equal(t, store.StatusInCall, b.WaitStatus(t, v.ID, time.Second, store.StatusInCall).Status, "no bot is failed")

	b.sim.FailLists(0)
	require.Equal(t, http.StatusAccepted, b.Call(t, http.MethodPost, "/api/v1/bots/"+v.ID.String()+"/leave", nil, nil))
	require.Equal(t, store.ReasonRemoved, *b.WaitStatus(t, v.ID, 30*time.Second, store.StatusDone, store.StatusFatal).StatusReason)
	b.waitAllIdle(t, 20*time.Second)
}

// waitListsRefused waits until the simulator has refused n list calls in
// all (FailLists is the only fault on, so every injected error is one).
func (b *testBundle) waitListsRefused(t *testing.T, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return b.sim.Stats().InjectedErrors >= n }, 30*time.Second, 10*time.Millisecond,
		"the simulator refused fewer than %d list calls", n)
}

func TestGCDuringSlotCreationKeepsTheNewSlot(t *testing.T) {
	t.Parallel()
	o := defaultOpts()
	o.manualPool = true
	// Coolify's clock (created_at) and the pool's (the orphan's age) are one
	// fake clock: the grace passes when the test says so.
	fc := fakeclock.New(time.Now())
	o.sim.Clock = fc
	b := setup(t, o)
	b.ctl.Clock = fc // passes are the test's alone (manualPool)
	ctx := context.Background()
	// A crash right after Coolify created a slot's application, before its
	// uuid was recorded: the row knows only the reserved name.
	_, err := b.store.ReserveIdleSlots(ctx, "zoom", "old-spec", 1, 10, fc.Now())
	require.NoError(t, err)
	created, err := b.apps().Create(ctx, pool.AppSpec{Name: "pool-zoom-001", Image: "ghcr.io/meeboter/meeboter-zoom-bot", Tag: "latest"})
	require.NoError(t, err)
	// And an application of ours that no slot knows: an orphan.
	orphan, err := b.apps().Create(ctx, pool.AppSpec{Name: "pool-zoom-099", Image: "ghcr.io/meeboter/meeboter-zoom-bot", Tag: "latest"})
	require.NoError(t, err)
	_, err = b.ctl.RunOnce(ctx)
	require.NoError(t, err)
	require.True(t, b.appExists(created), "a pass right after creation deleted the new slot's application")
	require.True(t, b.appExists(orphan), "an unknown application younger than the grace age is left alone")
	require.Zero(t, b.orphans())
	slots := b.slots(t)
	require.Len(t, slots, 1)
	require.Equal(t, created, *slots[0].AppUUID, "the slot adopted its application by name")

	fc.Advance(2100 * time.Millisecond) // OrphanGrace is 2 s in these tests
	_, err = b.ctl.RunOnce(ctx)
	require.NoError(t, err)
	require.True(t, b.appExists(created))
	require.InDelta(t, 1, b.orphans(), 0, "the orphan's delete is counted")
	fc.Advance(o.sim.DeleteDelay) // Coolify's asynchronous delete job runs
	require.Eventually(t, func() bool { return !b.appExists(orphan) }, 5*time.Second, 20*time.Millisecond,
		"the orphan was not deleted")
}
