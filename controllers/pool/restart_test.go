package pool_test

import (
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
