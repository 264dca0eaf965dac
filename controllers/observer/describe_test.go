package observer_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/controllers/observer"
	"github.com/meeboter/meeboter/pkg/platform"
	"github.com/meeboter/meeboter/pkg/platform/ecs"
	"github.com/meeboter/meeboter/pkg/platform/ecs/ecssim"
	"github.com/meeboter/meeboter/pkg/store"
)

// The observer of a platform.Describer, against ECS simulated behind the
// real AWS SDK: ECS calls are counted as the driver makes them (an SDK
// retry of a call is the same call).

const (
	silence      = 30 * time.Second
	maxStaleness = 5 * time.Minute
)

type ecsBundle struct {
	*testBundle
	sim *ecssim.Sim
	ecs *ecs.Platform

	mu    sync.Mutex
	calls map[string]int // ECS calls by operation
}

func setupECS(t *testing.T) *ecsBundle {
	t.Helper()
	b := setup(t)
	sim, srv := ecssim.NewServer(t, ecssim.Config{AccessKeyID: "AKID", SecretAccessKey: "SECRET", Clusters: []string{"bots"},
		TaskDefinitions:   map[string]ecssim.TaskDef{"meeboter-google-meet-bot:1": {ContainerName: "bot"}},
		ProvisioningDelay: 5 * time.Millisecond, PendingDelay: 5 * time.Millisecond, StopDelay: 10 * time.Millisecond,
		StopTimeout: time.Second, NoThrottle: true})
	client := ecssim.Client(srv.URL, "AKID", "SECRET")
	e := &ecsBundle{testBundle: b, sim: sim, calls: map[string]int{}}
	p, err := ecs.New(client, ecs.Config{Cluster: "bots", Subnets: []string{"subnet-1"},
		TaskDefinitions: map[string]string{"google-meet": "meeboter-google-meet-bot:1"},
		OnRequest: func(op string, _ error, _ time.Duration) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.calls[op]++
		}})
	require.NoError(t, err)
	e.ecs = p
	b.observer.Platform = p
	b.observer.Freshness = observer.Freshness{Silence: silence, MaxStaleness: maxStaleness}
	return e
}

// task makes a RUNNING deployment (updated at t0) whose ECS task runs; it
// returns the bot and the task's ARN.
func (b *ecsBundle) task(t *testing.T) (uuid.UUID, string) {
	t.Helper()
	ctx := context.Background()
	id := b.creating(t, t0)
	arn, err := b.ecs.Create(ctx, platform.Workload{Name: store.DeploymentName(id, 1), BotID: id.String(), Attempt: 1,
		MeetingPlatform: "google-meet", Env: map[string]string{"BOT_ID": id.String()}})
	require.NoError(t, err)
	require.NoError(t, b.store.MarkRunning(ctx, id, 1, arn, t0))
	require.Eventually(t, func() bool { return b.status(arn) == "RUNNING" }, 10*time.Second, 5*time.Millisecond)
	return id, arn
}

func (b *ecsBundle) status(arn string) string {
	snap, _ := b.sim.Task(arn)
	return snap.LastStatus
}

// beat records a heartbeat of the bot's attempt 1 at at.
func (b *ecsBundle) beat(t *testing.T, id uuid.UUID, at time.Time) {
	t.Helper()
	_, err := b.store.Heartbeat(context.Background(), "t-"+id.String(), id, at)
	require.NoError(t, err)
}

// reads runs one pass and returns the ECS calls it made, by operation.
func (b *ecsBundle) reads(t *testing.T) map[string]int {
	t.Helper()
	b.mu.Lock()
	b.calls = map[string]int{}
	b.mu.Unlock()
	_, err := b.observer.RunOnce(context.Background())
	require.NoError(t, err)
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.calls
}

// fleet makes n running tasks whose bots beat at at, and observes them
// running in one pass (one DescribeTasks call for all).
func (b *ecsBundle) fleet(t *testing.T, n int, at time.Time) ([]uuid.UUID, []string) {
	t.Helper()
	ids, arns := make([]uuid.UUID, n), make([]string, n)
	for i := range ids {
		ids[i], arns[i] = b.task(t)
		b.beat(t, ids[i], at)
	}
	b.clock.Set(at)
	require.Equal(t, map[string]int{"DescribeTasks": 1}, b.reads(t), "created tasks are read, by ARN, in one call")
	for _, id := range ids {
		require.Equal(t, store.ObservedRunning, *b.deployment(t, id).Observed)
	}
	return ids, arns
}

func TestBotsBeatingOnTimeCostNoECSCall(t *testing.T) {
	t.Parallel()
	b := setupECS(t)
	t1 := t0.Add(time.Minute)
	ids, _ := b.fleet(t, 20, t1)

	for _, at := range []time.Time{t1.Add(2 * time.Second), t1.Add(silence - time.Second)} {
		b.clock.Set(at)
		b.counter.Reset()
		require.Empty(t, b.reads(t), "20 bots beating on time: no ECS call at %s", at.Sub(t1))
		require.Empty(t, b.counter.Written())
	}

	// Beating on, they are still confirmed now and then: all at once, in
	// one call.
	b.clock.Set(t1.Add(maxStaleness))
	for _, id := range ids {
		b.beat(t, id, b.clock.Now())
	}
	require.Equal(t, map[string]int{"DescribeTasks": 1}, b.reads(t))
	b.clock.Set(t1.Add(maxStaleness + 2*time.Second))
	require.Empty(t, b.reads(t))
}

// A call made anyway has room for the tasks read longest ago: they are
// then not read again when they would go stale.
func TestCallsMadeAnywayConfirmStaleTasks(t *testing.T) {
	t.Parallel()
	b := setupECS(t)
	t1 := t0.Add(time.Minute)
	ids, _ := b.fleet(t, 5, t1)
	silent := ids[0]
	t2 := t1.Add(maxStaleness / 2)
	for _, id := range ids[1:] {
		b.beat(t, id, t2)
	}
	b.clock.Set(t2)
	require.Equal(t, map[string]int{"DescribeTasks": 1}, b.reads(t), "the silent bot's task, and the others with it")

	b.clock.Set(t1.Add(maxStaleness))
	for _, id := range ids {
		b.beat(t, id, b.clock.Now())
	}
	require.Empty(t, b.reads(t), "all were read at %s", t2.Sub(t1))
	b.clock.Set(t2.Add(maxStaleness))
	for _, id := range ids {
		b.beat(t, id, b.clock.Now())
	}
	require.Equal(t, map[string]int{"DescribeTasks": 1}, b.reads(t))
	require.Equal(t, store.ObservedRunning, *b.deployment(t, silent).Observed)
}

func TestSilentBotsTaskIsReadAlone(t *testing.T) {
	t.Parallel()
	b := setupECS(t)
	t1 := t0.Add(time.Minute)
	ids, arns := b.fleet(t, 20, t1)
	silent := ids[7]
	t2 := t1.Add(silence)
	for _, id := range ids {
		if id != silent {
			b.beat(t, id, t2.Add(-time.Second))
		}
	}
	b.clock.Set(t2)
	require.Equal(t, map[string]int{"DescribeTasks": 1}, b.reads(t), "one call, for the silent bot's task")
	require.Equal(t, store.ObservedRunning, *b.deployment(t, silent).Observed, "silent, but its task runs")

	// It crashed: the next pass sees it exited, with its exit code.
	require.NoError(t, b.sim.CrashTask(arns[7], 137))
	require.Eventually(t, func() bool { return b.status(arns[7]) == "STOPPED" }, 10*time.Second, 5*time.Millisecond)
	b.clock.Set(t2.Add(2 * time.Second))
	require.Equal(t, map[string]int{"DescribeTasks": 1}, b.reads(t))
	d := b.deployment(t, silent)
	require.Equal(t, store.ObservedExited, *d.Observed)
	require.Equal(t, 137, *d.ExitCode)
	for _, id := range ids {
		if id != silent {
			require.Equal(t, store.ObservedRunning, *b.deployment(t, id).Observed)
		}
	}
	// An ended attempt stays ended: it is not read again.
	b.clock.Set(t2.Add(4 * time.Second))
	require.Empty(t, b.reads(t))
}

func TestTaskStoppedInECSIsObservedExited(t *testing.T) {
	t.Parallel()
	b := setupECS(t)
	id, arn := b.task(t)
	b.clock.Set(t0.Add(time.Minute)) // the bot never beat: always read
	b.finishReconcileJobs(t, id)
	require.NoError(t, b.sim.StopTaskExternally(arn, types.TaskStopCodeSpotInterruption, "Your Spot Task was interrupted."))
	require.Eventually(t, func() bool { return b.status(arn) == "STOPPED" }, 10*time.Second, 5*time.Millisecond)

	n, err := b.observer.RunOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, store.ObservedExited, *b.deployment(t, id).Observed)
	require.Equal(t, 1, b.reconcileJobs(t, id), "the bot is woken")
}

func TestTaskECSNoLongerKnowsIsObservedMissing(t *testing.T) {
	t.Parallel()
	b := setupECS(t)
	id, arn := b.task(t)
	b.clock.Set(t0.Add(time.Minute))
	b.beat(t, id, t0.Add(time.Minute))
	require.Equal(t, map[string]int{"DescribeTasks": 1}, b.reads(t))
	require.Equal(t, store.ObservedRunning, *b.deployment(t, id).Observed)

	require.NoError(t, b.sim.VanishTask(arn))
	b.clock.Set(t0.Add(time.Minute + silence)) // its bot fell silent
	require.Equal(t, map[string]int{"DescribeTasks": 1}, b.reads(t))
	require.Equal(t, store.ObservedMissing, *b.deployment(t, id).Observed, "DescribeTasks said MISSING")
}

// A workload unknown to ECS within the create grace is not missing yet
// (eventual consistency), as in a list.
func TestMissingWithinCreateGraceIsPending(t *testing.T) {
	t.Parallel()
	b := setupECS(t)
	id, arn := b.task(t)
	require.NoError(t, b.sim.VanishTask(arn))
	b.clock.Set(t0.Add(createGrace - time.Second))
	require.Equal(t, map[string]int{"DescribeTasks": 1}, b.reads(t))
	require.Equal(t, store.ObservedPending, *b.deployment(t, id).Observed)
	b.clock.Set(t0.Add(createGrace))
	require.Equal(t, map[string]int{"DescribeTasks": 1}, b.reads(t))
	require.Equal(t, store.ObservedMissing, *b.deployment(t, id).Observed)
}

// A stop of a workload whose create answer was lost has no ARN to read:
// only a complete list proves the workload gone.
func TestStoppingWithoutExternalIDListsWhole(t *testing.T) {
	t.Parallel()
	b := setupECS(t)
	running, _ := b.task(t)
	lost := b.creating(t, t0)
	require.NoError(t, b.store.MarkStopping(context.Background(), lost, 1, t0))
	require.Equal(t, store.DeploymentStopping, b.deployment(t, lost).State)
	b.beat(t, running, t0.Add(time.Minute))
	b.clock.Set(t0.Add(time.Minute))

	calls := b.reads(t)
	require.Equal(t, 2, calls["ListTasks"], "RUNNING and STOPPED")
	require.Equal(t, store.ObservedMissing, *b.deployment(t, lost).Observed)
	require.Equal(t, store.ObservedRunning, *b.deployment(t, running).Observed)
}

// A failed read writes nothing.
func TestFailedDescribeWritesNothing(t *testing.T) {
	t.Parallel()
	b := setupECS(t)
	id, _ := b.task(t)
	before := b.deployment(t, id)
	b.sim.SetErrorRate(1)
	b.clock.Set(t0.Add(time.Hour))
	_, err := b.observer.RunOnce(context.Background())
	require.Error(t, err)
	after := b.deployment(t, id)
	require.Equal(t, *before.Observed, *after.Observed)
	require.Equal(t, store.ObservedPending, *after.Observed)
}
