package pool_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/meeboter/meeboter/controllers/pool"
	"github.com/meeboter/meeboter/hack/devenv/pgtest"
	"github.com/meeboter/meeboter/hack/devenv/storetest"
	"github.com/meeboter/meeboter/pkg/clock"
	"github.com/meeboter/meeboter/pkg/store"
)

// stoppedApps is a Coolify whose slot applications are created and stay
// stopped (exited): nothing ever starts them in these tests.
type stoppedApps struct {
	mu   sync.Mutex
	apps []pool.App
}

func (a *stoppedApps) List(context.Context) ([]pool.App, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]pool.App(nil), a.apps...), nil
}

func (a *stoppedApps) Create(_ context.Context, spec pool.AppSpec) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	uuid := fmt.Sprintf("app%021d", len(a.apps)+1)
	a.apps = append(a.apps, pool.App{UUID: uuid, Name: spec.Name, Status: "exited:unhealthy", CreatedAt: time.Now()})
	return uuid, nil
}

func (a *stoppedApps) SetEnv(context.Context, string, map[string]string) error { return nil }
func (a *stoppedApps) Update(context.Context, string, pool.AppSpec) error      { return nil }
func (a *stoppedApps) Delete(context.Context, string) error                    { return nil }
func (a *stoppedApps) Start(context.Context, string) error                     { return nil }
func (a *stoppedApps) Stop(context.Context, string) error                      { return nil }

func (a *stoppedApps) StartedSince(context.Context, string, time.Time) (bool, error) {
	return false, nil
}

// A pass over a pool where nothing changed (idle slots, stopped, as listed
// last time) writes nothing and opens no transaction: no observation per
// slot, no reservation transaction per meeting platform.
func TestSteadyPoolPassWritesNothing(t *testing.T) {
	t.Parallel()
	counter := &pgtest.QueryCounter{}
	st := store.New(storetest.NewPoolWith(t, func(cfg *pgxpool.Config) { cfg.ConnConfig.Tracer = counter }), nil)
	var specs []pool.Spec
	for _, mp := range []string{"zoom", "microsoft-teams", "google-meet"} {
		specs = append(specs, pool.Spec{MeetingPlatform: mp, AppSpec: pool.AppSpec{Image: "ghcr.io/meeboter/meeboter-" + mp + "-bot",
			Tag: "latest", LimitsCPUs: "1", LimitsMemory: "2048m"}})
	}
	ctl := &pool.Pool{Config: pool.Config{Specs: specs, MinIdle: 2, MaxSlots: 4, IdleTTL: time.Hour, MaxConcurrentStarts: 4,
		StartTimeout: 30 * time.Second, StopTimeout: 5 * time.Second, DeleteTimeout: 5 * time.Second, OrphanGrace: time.Minute,
		MaxErrors: 3, Env: func(string, string) map[string]string { return nil }},
		Apps: &stoppedApps{}, Store: st, Clock: clock.Wall{}, Logger: zap.NewNop()}
	ctx := context.Background()
	for range 2 { // create the slots, then record what the list says of them
		_, err := ctl.RunOnce(ctx)
		require.NoError(t, err)
	}
	slots, err := st.Slots(ctx)
	require.NoError(t, err)
	require.Len(t, slots, 6)
	for _, s := range slots {
		require.Equal(t, store.SlotIdle, s.State)
		require.Equal(t, "exited:unhealthy", *s.Observed)
	}

	counter.Reset()
	n, err := ctl.RunOnce(ctx)
	require.NoError(t, err)
	require.Zero(t, n)
	t.Logf("steady pool pass: %d round trips, writes %v, transactions %d: %v", counter.Queries(), counter.Written(),
		counter.Transactions(), counter.Statements())
	require.Empty(t, counter.Written(), "a steady pass writes nothing")
	require.Zero(t, counter.Transactions())
	// A spare count per meeting platform, the slots and the starts in flight.
	require.LessOrEqual(t, counter.Queries(), len(specs)+2)
}
