package gc_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/meeboter/meeboter/controllers"
	"github.com/meeboter/meeboter/controllers/gc"
	"github.com/meeboter/meeboter/hack/devenv/fakeclock"
	"github.com/meeboter/meeboter/hack/devenv/storetest"
	"github.com/meeboter/meeboter/pkg/metrics"
	"github.com/meeboter/meeboter/pkg/platform"
	"github.com/meeboter/meeboter/pkg/platform/platformtest"
	"github.com/meeboter/meeboter/pkg/store"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

const grace = 30 * time.Second

type testBundle struct {
	store     *store.Store
	platform  *platformtest.Fake
	clock     *fakeclock.Clock
	metrics   *metrics.Metrics
	collector *gc.Collector
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	pool := storetest.NewPool(t)
	client, err := controllers.NewInsertClient(pool)
	require.NoError(t, err)
	st := store.New(pool, controllers.NewEnqueuer(client))
	b := &testBundle{store: st, platform: &platformtest.Fake{}, clock: fakeclock.New(t0), metrics: metrics.New(metrics.Options{})}
	b.collector = &gc.Collector{Store: st, Platform: b.platform, Clock: b.clock, Grace: grace, Logger: zap.NewNop(),
		Metrics: b.metrics}
	return b
}

// orphansCounted is the collector's meeboter_orphans_collected_total.
func (b *testBundle) orphansCounted() float64 {
	return testutil.ToFloat64(b.metrics.OrphansCollected.WithLabelValues(b.platform.Name()))
}

func render(b store.Bot) ([]byte, error) { return json.Marshal(map[string]any{"id": b.ID}) }

// running makes a bot with a RUNNING deployment (attempt 1) on the fake
// platform and returns the workload's name.
func (b *testBundle) running(t *testing.T) (uuid.UUID, string) {
	t.Helper()
	ctx := context.Background()
	res, err := b.store.CreateBot(ctx, store.NewBot{Owner: "acme", MeetingURL: "https://meet.google.com/abc-defg-hij",
		MeetingPlatform: "google-meet", BotName: "Meeboter", Metadata: json.RawMessage(`{}`)}, nil, t0, render)
	require.NoError(t, err)
	id := res.Bot.ID
	admitted, err := b.store.Admit(ctx, store.PlatformLimit{Platform: b.platform.Name(), Limit: 100}, t0)
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{id}, admitted)
	storetest.BeginCreate(t, b.store, id, 1, "t-"+id.String(), t0)
	require.NoError(t, b.store.MarkRunning(ctx, id, 1, "ext-"+id.String(), t0))
	return id, store.DeploymentName(id, 1)
}

func workload(name string, created time.Time, phase platform.Phase) platform.Listed {
	return platform.Listed{Name: name, ExternalID: "ext-" + name, CreatedAt: created,
		Observation: platform.Observation{Phase: phase}}
}

func TestFailedListStopsNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.platform.Set(workload("meeboter-orphan-1", t0, platform.PhaseRunning))
	listErr := errors.New("ecs: throttled")
	b.platform.FailList(listErr)
	b.clock.Set(t0.Add(time.Hour))

	n, err := b.collector.RunOnce(context.Background())
	require.ErrorIs(t, err, listErr)
	require.Zero(t, n)
	require.Empty(t, b.platform.Stopped())
}

func TestLiveDeploymentsWorkloadIsNeverStopped(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, name := b.running(t)
	b.platform.Set(workload(name, t0.Add(-24*time.Hour), platform.PhaseRunning),
		workload(name, t0.Add(-24*time.Hour), platform.PhaseExited)) // even its own old exit record
	b.clock.Set(t0.Add(24 * time.Hour))

	n, err := b.collector.RunOnce(context.Background())
	require.NoError(t, err)
	require.Zero(t, n)
	require.Empty(t, b.platform.Stopped())
}

func TestOrphanOlderThanGraceIsStopped(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, owned := b.running(t)
	now := t0.Add(time.Hour)
	b.clock.Set(now)
	b.platform.Set(
		workload(owned, now.Add(-time.Hour), platform.PhaseRunning),
		workload("meeboter-old-1", now.Add(-grace), platform.PhaseRunning),
		workload("meeboter-old-2", now.Add(-time.Hour), platform.PhasePending),
		workload("meeboter-young-1", now.Add(-grace+time.Second), platform.PhaseRunning), // being created right now
	)

	n, err := b.collector.RunOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.ElementsMatch(t, []platformtest.StopCall{
		{Name: "meeboter-old-1", ExternalID: "ext-meeboter-old-1"},
		{Name: "meeboter-old-2", ExternalID: "ext-meeboter-old-2"},
	}, b.platform.Stopped())
	require.InDelta(t, 2, b.orphansCounted(), 0, "every collected orphan is counted")
}

func TestGoneDeploymentsWorkloadIsCollected(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	id, name := b.running(t)
	now := t0.Add(time.Hour)
	require.NoError(t, b.store.MarkStopping(ctx, id, 1, now))
	require.NoError(t, b.store.MarkGone(ctx, id, 1, now)) // e.g. Stop reported success, but the workload lingers
	b.clock.Set(now)
	b.platform.Set(workload(name, t0, platform.PhaseRunning))

	n, err := b.collector.RunOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, []platformtest.StopCall{{Name: name, ExternalID: "ext-" + name}}, b.platform.Stopped())
}

func TestStoppingDeploymentsWorkloadIsNotCollected(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	id, name := b.running(t)
	require.NoError(t, b.store.MarkStopping(ctx, id, 1, t0)) // its own reconciler stops it
	b.clock.Set(t0.Add(time.Hour))
	b.platform.Set(workload(name, t0, platform.PhaseRunning))

	n, err := b.collector.RunOnce(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	require.Empty(t, b.platform.Stopped())
}

func TestExitedOrphanIsCleanedUpButNotCounted(t *testing.T) {
	t.Parallel()
	b := setup(t)
	now := t0.Add(time.Hour)
	b.clock.Set(now)
	b.platform.Set(
		workload("meeboter-exited-1", t0, platform.PhaseExited),
		workload("meeboter-running-1", t0, platform.PhaseRunning),
	)

	n, err := b.collector.RunOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n, "only the live orphan counts as collected")
	require.InDelta(t, 1, b.orphansCounted(), 0, "in the metric too")
	require.ElementsMatch(t, []platformtest.StopCall{
		{Name: "meeboter-exited-1", ExternalID: "ext-meeboter-exited-1"},
		{Name: "meeboter-running-1", ExternalID: "ext-meeboter-running-1"},
	}, b.platform.Stopped())
}

func TestStopErrorIsReturned(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.clock.Set(t0.Add(time.Hour))
	b.platform.Set(workload("meeboter-old-1", t0, platform.PhaseRunning))
	stopErr := errors.New("coolify: 500")
	b.platform.FailStop(stopErr)

	n, err := b.collector.RunOnce(context.Background())
	require.ErrorIs(t, err, stopErr)
	require.Zero(t, n)
	require.Zero(t, b.orphansCounted(), "a failed stop collected nothing")
}

// ECS drops a stopped task's tags: a nameless workload is owned through its
// external id, and collected by it when no live deployment has it.
func TestNamelessWorkloadOwnedByExternalID(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id, name := b.running(t)
	owned := workload(name, t0.Add(-time.Hour), platform.PhaseRunning)
	owned.Name, owned.ExternalID = "", "ext-"+id.String()
	orphan := workload("x", t0.Add(-time.Hour), platform.PhaseRunning)
	orphan.Name, orphan.ExternalID = "", "arn:orphan"
	b.platform.Set(owned, orphan)
	n, err := b.collector.RunOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, []platformtest.StopCall{{Name: "", ExternalID: "arn:orphan"}}, b.platform.Stopped())
}
