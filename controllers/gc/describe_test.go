package gc_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/hack/devenv/storetest"
	"github.com/meeboter/meeboter/pkg/platform"
	"github.com/meeboter/meeboter/pkg/platform/ecs"
	"github.com/meeboter/meeboter/pkg/platform/ecs/ecssim"
	"github.com/meeboter/meeboter/pkg/store"
)

// creatingOn makes a bot with a CREATING deployment (attempt 1) on the
// named platform and returns the workload's name.
func (b *testBundle) creatingOn(t *testing.T, name string) (uuid.UUID, string) {
	t.Helper()
	ctx := context.Background()
	res, err := b.store.CreateBot(ctx, store.NewBot{Owner: "acme", MeetingURL: "https://meet.google.com/abc-defg-hij",
		MeetingPlatform: "google-meet", BotName: "Meeboter", Metadata: json.RawMessage(`{}`)}, nil, t0, render)
	require.NoError(t, err)
	id := res.Bot.ID
	admitted, err := b.store.Admit(ctx, store.PlatformLimit{Platform: name, Limit: 100}, t0)
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{id}, admitted)
	storetest.BeginCreate(t, b.store, id, 1, "t-"+id.String(), t0)
	return id, store.DeploymentName(id, 1)
}

// On ECS the collector lists running task ARNs and reads only those no
// deployment owns: the real SDK against the simulator.
func TestECSCollectorReadsOnlyUnownedTasks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	sim, srv := ecssim.NewServer(t, ecssim.Config{AccessKeyID: "AKID", SecretAccessKey: "SECRET", Clusters: []string{"bots"},
		TaskDefinitions:   map[string]ecssim.TaskDef{"meeboter-google-meet-bot:1": {ContainerName: "bot"}},
		ProvisioningDelay: 5 * time.Millisecond, PendingDelay: 5 * time.Millisecond, StopDelay: 10 * time.Millisecond,
		StopTimeout: time.Second, NoThrottle: true})
	client := ecssim.Client(srv.URL, "AKID", "SECRET")
	var mu sync.Mutex
	calls := map[string]int{}
	p, err := ecs.New(client, ecs.Config{Cluster: "bots", Subnets: []string{"subnet-1"},
		TaskDefinitions: map[string]string{"google-meet": "meeboter-google-meet-bot:1"},
		OnRequest: func(op string, _ error, _ time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			calls[op]++
		}})
	require.NoError(t, err)
	b.collector.Platform = p
	ctx := context.Background()

	// Three tasks owned by their ARNs, one by its name (its create's answer
	// not recorded yet), one stopped, one orphan.
	for range 3 {
		id, name := b.creatingOn(t, p.Name())
		arn, err := p.Create(ctx, platform.Workload{Name: name, BotID: id.String(), Attempt: 1, MeetingPlatform: "google-meet"})
		require.NoError(t, err)
		require.NoError(t, b.store.MarkRunning(ctx, id, 1, arn, t0))
	}
	_, name := b.creatingOn(t, p.Name())
	_, err = p.Create(ctx, platform.Workload{Name: name, BotID: "creating", Attempt: 1, MeetingPlatform: "google-meet"})
	require.NoError(t, err)
	stopped, err := p.Create(ctx, platform.Workload{Name: "meeboter-stopped-1", BotID: "stopped", Attempt: 1, MeetingPlatform: "google-meet"})
	require.NoError(t, err)
	orphan, err := p.Create(ctx, platform.Workload{Name: "meeboter-orphan-1", BotID: "orphan", Attempt: 1, MeetingPlatform: "google-meet"})
	require.NoError(t, err)
	_, err = p.Stop(ctx, "meeboter-stopped-1", stopped)
	require.NoError(t, err)
	b.clock.Set(time.Now().Add(time.Hour)) // every task is past the grace

	mu.Lock()
	clear(calls)
	mu.Unlock()
	n, err := b.collector.RunOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	mu.Lock()
	require.Equal(t, map[string]int{"ListTasks": 1, "DescribeTasks": 1, "StopTask": 1}, calls,
		"running ARNs only; the unowned alone are described")
	mu.Unlock()
	stops := sim.Stops()
	require.Equal(t, orphan, stops[len(stops)-1].TaskARN)
}
