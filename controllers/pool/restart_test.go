package pool_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/api"
	"github.com/meeboter/meeboter/pkg/store"
)

// slotOf returns the app uuid of the slot running a bot's attempt.
func (b *testBundle) slotOf(t *testing.T, id uuid.UUID, attempt int) string {
	t.Helper()
	name := store.DeploymentName(id, attempt)
	for _, s := range b.slots(t) {
		if s.AssignedDeployment != nil && *s.AssignedDeployment == name && s.AppUUID != nil {
			return *s.AppUUID
		}
	}
	t.Fatalf("no slot runs %s", name)
	return ""
}

// A slot container that crashes mid-call is restarted by Docker; the new
// container asks for its assignment, which proves the meeting session gone.
// The bot ends within seconds with a reason that says so, not at its
// heartbeat deadline minutes later, and the slot comes back (issue 10).
func TestRestartedSlotContainerEndsItsBotAtOnce(t *testing.T) {
	t.Parallel()
	o := defaultOpts()
	o.bot.HeartbeatTimeout = 5 * time.Minute
	b := setup(t, o)
	v := b.CreateBot(t, meetURL, map[string]any{"call_seconds": 0})
	b.WaitStatus(t, v.ID, 30*time.Second, store.StatusInCall)
	crashed := time.Now()
	b.sim.CrashContainer(b.slotOf(t, v.ID, 1), 137)
	fatal := b.WaitStatus(t, v.ID, 30*time.Second, store.StatusDone, store.StatusFatal)
	require.Equal(t, store.StatusFatal, fatal.Status)
	require.Equal(t, store.ReasonContainerRestarted, *fatal.StatusReason)
	require.Less(t, time.Since(crashed), 20*time.Second, "ended by the restart, not by a deadline")
	b.waitAllIdle(t, 30*time.Second)
}

// Restarted before the call (in the waiting room): the attempt is over, and
// the bot gets a new one, which completes.
func TestRestartedSlotContainerBeforeTheCallRetries(t *testing.T) {
	t.Parallel()
	b := setup(t, defaultOpts())
	v := b.CreateBot(t, meetURL, map[string]any{"waiting_room_seconds": 60})
	b.WaitStatus(t, v.ID, 30*time.Second, store.StatusInWaitingRoom)
	b.sim.CrashContainer(b.slotOf(t, v.ID, 1), 1)
	// The new attempt waits in the room too; let it in.
	require.Eventually(t, func() bool {
		var got api.BotView
		b.Call(t, http.MethodGet, "/api/v1/bots/"+v.ID.String(), nil, &got)
		return got.Attempt == 2 && got.Status == store.StatusInWaitingRoom
	}, 30*time.Second, 50*time.Millisecond, "no second attempt")
	require.Equal(t, http.StatusAccepted, b.Call(t, http.MethodPost, "/api/v1/bots/"+v.ID.String()+"/leave", nil, nil))
	done := b.WaitStatus(t, v.ID, 30*time.Second, store.StatusDone, store.StatusFatal)
	require.Equal(t, store.StatusDone, done.Status, "reason %v", done.StatusReason)
	b.waitAllIdle(t, 30*time.Second)
}

// A slot start answered 500 after it took effect must not be repeated:
// Coolify starts a running application again by redeploying it, which
// restarts the container and ends its bot's meeting (issue 10's chaos runs:
// FATAL/container_restarted during a 5xx window). The pool asks Coolify's
// deployments before starting again.
func TestAmbiguousSlotStartIsNotRepeated(t *testing.T) {
	t.Parallel()
	b := setup(t, defaultOpts())
	b.sim.SetErrorAfterRate(0.35)
	var bots []api.BotView
	for range 6 {
		bots = append(bots, b.CreateBot(t, meetURL, map[string]any{"call_seconds": 2}))
	}
	for _, v := range bots {
		done := b.WaitStatus(t, v.ID, time.Minute, store.StatusDone, store.StatusFatal)
		require.Equal(t, store.StatusDone, done.Status, "bot %s: reason %v", v.ID, done.StatusReason)
	}
	require.Positive(t, b.sim.Stats().InjectedErrors)
}

// A bot stopped while its slot's start is still queued in Coolify: the stop
// finds no container, and the start brings one up after it. A container
// seen running after its stop was asked is stopped again within seconds,
// not after StopTimeout (issue 10's chaos runs: a workload running for a
// terminal bot for two minutes).
func TestStopDuringAQueuedStartStopsTheLateContainer(t *testing.T) {
	t.Parallel()
	o := defaultOpts()
	o.sim.ColdStart = 2 * time.Second
	o.stopTimeout = 2 * time.Minute
	b := setup(t, o)
	v := b.CreateBot(t, meetURL, map[string]any{"call_seconds": 0})
	require.Eventually(t, func() bool {
		for _, s := range b.slots(t) {
			if s.AssignedDeployment != nil && *s.AssignedDeployment == store.DeploymentName(v.ID, 1) && s.StartRequestedAt != nil {
				return true
			}
		}
		return false
	}, 30*time.Second, 10*time.Millisecond)
	require.Equal(t, http.StatusAccepted, b.Call(t, http.MethodDelete, "/api/v1/bots/"+v.ID.String(), nil, nil))
	stopped := time.Now()
	b.waitAllIdle(t, 30*time.Second)
	for _, a := range b.sim.Apps() {
		require.False(t, a.Running, "app %s still runs", a.Name)
	}
	require.Less(t, time.Since(stopped), 20*time.Second, "not left running until StopTimeout")
}

// A crash between recording a slot's start and sending it: the start's
// outcome is unknown, so the next pass asks Coolify's deployments, finds
// none, and starts the slot (the slot must not wait out StartTimeout).
func TestStartLostInACrashIsSentAgain(t *testing.T) {
	t.Parallel()
	o := defaultOpts()
	o.manualPool, o.minIdle = true, 1
	b := setup(t, o)
	ctx := context.Background()
	b.passes(t, 3) // one idle slot per meeting platform
	idle := b.idleSlot(t, "google-meet")
	const dep = "meeboter-00000000-0000-0000-0000-000000000001-1"
	slot, err := b.store.ClaimSlot(ctx, dep, "google-meet", idle.SpecHash, 10, time.Now())
	require.NoError(t, err)
	require.Equal(t, idle.ID, slot.ID)
	ok, err := b.store.UpdateSlot(ctx, store.SlotUpdate{ID: slot.ID, From: store.SlotStarting, Assigned: new(dep),
		To: store.SlotStarting, StartRequested: true, StartUnknown: new(true)}, time.Now())
	require.NoError(t, err)
	require.True(t, ok)

	require.Eventually(t, func() bool {
		b.passes(t, 1)
		a, _ := b.sim.App(*slot.AppUUID)
		return a.Running
	}, 20*time.Second, 100*time.Millisecond, "the slot was never started")
}
