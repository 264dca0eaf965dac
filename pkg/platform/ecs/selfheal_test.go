package ecs_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/api"
	"github.com/meeboter/meeboter/pkg/store"
)

// The regressions of issue 10 on ECS: faults that should only slow bots
// down must not kill them.

// createBots creates n bots and waits until every one has ended.
func (b *testBundle) finishedBots(t *testing.T, n int, timeout time.Duration) []api.BotView {
	t.Helper()
	ids := make([]api.BotView, n)
	for i := range ids {
		ids[i] = b.CreateBot(t, meetURL, nil)
	}
	for i, v := range ids {
		ids[i] = b.WaitStatus(t, v.ID, timeout, store.StatusDone, store.StatusFatal)
	}
	return ids
}

func requireAllDone(t *testing.T, views []api.BotView) {
	t.Helper()
	for _, v := range views {
		require.Equal(t, store.StatusDone, v.Status, "bot %s: reason %s", v.ID, deref(v.StatusReason))
	}
}

// requireOneTaskPerBot checks that every bot ran in exactly one task.
func (b *testBundle) requireOneTaskPerBot(t *testing.T, views []api.BotView) {
	t.Helper()
	tasks := map[string]int{}
	for _, task := range b.sim.Tasks() {
		tasks[task.Env["BOT_ID"]]++
	}
	for _, v := range views {
		require.Equal(t, 1, tasks[v.ID.String()], "tasks of bot %s", v.ID)
	}
}

// A RunTask that started its task but lost its answer (a 5xx after the
// create), and a listing that does not show the task yet: the retry must
// adopt that task, and the task must hold a token that works. It held the
// first try's token while the retry minted another, so its bot got 401s and
// exited.
func TestECSAmbiguousRunTaskIsAdoptedWithAWorkingToken(t *testing.T) {
	t.Parallel()
	o := defaultOpts()
	o.sim.ConsistencyLag = 2 * time.Second
	o.sdkAttempts = 1                         // every lost answer reaches the controller
	o.settings.CallDuration = 5 * time.Second // the retry comes while the adopted task's bot is in its call
	b := setup(t, o)
	b.sim.SetErrorAfterRate(0.4)
	views := b.finishedBots(t, 8, 2*time.Minute)
	b.sim.SetErrorAfterRate(0)
	requireAllDone(t, views)
	b.requireOneTaskPerBot(t, views)
	st := b.sim.Stats()
	require.Positive(t, st.Replays, "some RunTask answers were lost and replayed from the clientToken")
	require.Zero(t, st.Conflicts, "every retry sent the same request")
}

// A capacity refusal created nothing: the next try must be allowed to
// succeed. ECS answers a reused clientToken with its first answer, the
// refusal too, and a changed request with ConflictException: the retry
// needs a new token (not a new bot token), and the bot waits for capacity
// within its deploy deadline instead of failing as a platform error.
func TestECSCapacityRefusalsWaitForCapacity(t *testing.T) {
	t.Parallel()
	o := defaultOpts()
	o.sim.ConsistencyLag = 4 * time.Second
	b := setup(t, o)
	b.sim.SetCapacityFailures("RESOURCE:MEMORY", 6)
	views := b.finishedBots(t, 8, 2*time.Minute)
	requireAllDone(t, views)
	b.requireOneTaskPerBot(t, views)
	st := b.sim.Stats()
	require.Equal(t, 6, st.Failures, "the refusals happened")
	require.Zero(t, st.Conflicts)
}

// A pull that takes longer than DEPLOY_TIMEOUT while ECS reports the task
// PENDING throughout is progress, not a stuck deploy.
func TestECSSlowImagePullIsNotKilled(t *testing.T) {
	t.Parallel()
	o := defaultOpts()
	o.sim.PendingDelay = 6 * time.Second
	o.bot.DeployTimeout = 2 * time.Second
	b := setup(t, o)
	requireAllDone(t, b.finishedBots(t, 3, time.Minute))
}

// A stopped task keeps running down for a while (STOPPING, DEPROVISIONING):
// it counts against AWS_BOT_LIMIT until ECS reports it STOPPED.
func TestECSStoppingTasksCountAgainstTheLimit(t *testing.T) {
	t.Parallel()
	o := defaultOpts()
	o.limit = 3
	o.sim.StopDelay = 2 * time.Second
	b := setup(t, o)
	requireAllDone(t, b.finishedBots(t, 9, 2*time.Minute))
	require.LessOrEqual(t, b.sim.Stats().MaxActive, 3, "tasks not yet STOPPED at once")
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}
