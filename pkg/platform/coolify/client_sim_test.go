// Tests of the client against the Coolify simulator, through the contract
// transport: the simulator's answers must match Coolify's spec as patched by
// coolifyspec.Deviations, exactly as the canned answers of client_test.go do.

package coolify

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/hack/devenv/fakeclock"
	"github.com/meeboter/meeboter/pkg/platform/coolify/coolifysim"
)

// simEnv is what these tests need of a running simulator.
type simEnv struct {
	BaseURL                                  string // ends with /api/v1
	Token                                    string
	ProjectUUID, ServerUUID, EnvironmentName string
}

// simOptions are the simulator knobs these tests set.
type simOptions struct {
	RateLimitPerMinute int // 0: no throttle
}

// startSim starts a simulator, closed when t ends, whose clock is clock.Now:
// the client sleeps on the same fake clock, so waiting is moving it.
func startSim(t *testing.T, clock *fakeclock.Clock, opts simOptions) simEnv {
	t.Helper()
	sim, srv := coolifysim.NewServer(t, coolifysim.Config{
		Clock: clock, ColdStart: time.Second, WarmStart: 100 * time.Millisecond,
		DeleteDelay: time.Second, RateLimitPerMinute: opts.RateLimitPerMinute, Seed: 1,
	})
	c := sim.Config()
	return simEnv{BaseURL: srv.URL + "/api/v1", Token: sim.Token(),
		ProjectUUID: c.ProjectUUID, ServerUUID: c.ServerUUID, EnvironmentName: c.EnvironmentName}
}

// newSimClient is a client for env through the contract transport, on clock.
func newSimClient(t *testing.T, env simEnv, clock *fakeclock.Clock, cfg Config) (*Client, *contractTransport) {
	t.Helper()
	ct := newContractTransport(t, t, nil)
	cfg.BaseURL, cfg.Token = env.BaseURL, env.Token
	cfg.HTTPClient = &http.Client{Transport: ct, Timeout: 10 * time.Second}
	c, err := NewClient(cfg)
	require.NoError(t, err)
	c.now, c.sleep = clock.Now, clock.Sleep
	return c, ct
}

// eventually polls cond, moving the shared fake clock by step between polls
// (and yielding a little real time to the simulator's ticker), for at most
// limit of fake time.
func eventually(t *testing.T, clock *fakeclock.Clock, step, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	for waited := time.Duration(0); ; waited += step {
		if cond() {
			return
		}
		require.Less(t, waited, limit, "gave up waiting: %s", what)
		require.NoError(t, clock.Sleep(t.Context(), step))
		time.Sleep(2 * time.Millisecond)
	}
}

func newSimClock() *fakeclock.Clock { return fakeclock.New(time.Now().UTC().Truncate(time.Second)) }

func TestSimLifecycle(t *testing.T) {
	t.Parallel()
	clock := newSimClock()
	env := startSim(t, clock, simOptions{})
	c, ct := newSimClient(t, env, clock, Config{})
	ctx := t.Context()

	uuid, err := c.CreateApplication(ctx, CreateApp{
		ProjectUUID: env.ProjectUUID, ServerUUID: env.ServerUUID, EnvironmentName: env.EnvironmentName,
		Name: "meeboter-slot-sim-01", Description: "sim slot", Image: "ghcr.io/meeboter/bot", Tag: "1.0.0",
		PortsExposes: "3000", LimitsCPUs: "1", LimitsMemory: "1g", Tags: []string{"Meeboter-Sim"},
		CustomDockerRunOptions: "--shm-size=1g", MaxRestartCount: intPtr(0),
	})
	require.NoError(t, err)
	require.Len(t, uuid, 24)

	app, err := c.GetApplication(ctx, uuid)
	require.NoError(t, err)
	require.Equal(t, "meeboter-slot-sim-01", app.Name)
	require.Equal(t, "sim slot", app.Description)
	require.Equal(t, "ghcr.io/meeboter/bot", app.Image)
	require.Equal(t, "1.0.0", app.Tag)
	require.Equal(t, "1g", app.LimitsMemory)
	require.Zero(t, app.MaxRestartCount)
	state, _ := ParseStatus(app.Status)
	require.Equal(t, StateExited, state, "a new application is not deployed")
	require.False(t, app.CreatedAt.IsZero())

	apps, err := c.ListApplications(ctx, "meeboter-sim")
	require.NoError(t, err)
	require.Len(t, apps, 1)
	require.Equal(t, uuid, apps[0].UUID)
	apps, err = c.ListApplications(ctx, "no-such-tag")
	require.NoError(t, err)
	require.Empty(t, apps)

	require.NoError(t, c.SetEnvs(ctx, uuid, map[string]string{"POOL_SLOT_UUID": "slot-1", "SLOT_TOKEN": "t$k"}))
	require.NoError(t, c.SetEnvs(ctx, uuid, map[string]string{"POOL_SLOT_UUID": "slot-1"}), "an update is an upsert")

	deployment, err := c.StartApplication(ctx, uuid)
	require.NoError(t, err)
	require.NotEmpty(t, deployment)
	again, err := c.StartApplication(ctx, uuid)
	require.NoError(t, err)
	require.Empty(t, again, "a second start while one is queued or running is skipped")

	eventually(t, clock, 250*time.Millisecond, 5*time.Minute, "deployment finished", func() bool {
		ds, err := c.Deployments(ctx, uuid, 5)
		require.NoError(t, err)
		require.NotEmpty(t, ds)
		require.Equal(t, deployment, ds[0].UUID, "newest first")
		if ds[0].Done() {
			require.Equal(t, DeploymentFinished, ds[0].Status)
			require.NotNil(t, ds[0].FinishedAt)
			return true
		}
		return false
	})
	eventually(t, clock, 250*time.Millisecond, 5*time.Minute, "running", func() bool {
		app, err := c.GetApplication(ctx, uuid)
		require.NoError(t, err)
		state, _ := ParseStatus(app.Status)
		return state == StateRunning
	})

	tag := "1.0.1"
	require.NoError(t, c.UpdateApplication(ctx, uuid, AppPatch{Tag: &tag, LimitsCPUs: strPtr("2")}))
	app, err = c.GetApplication(ctx, uuid)
	require.NoError(t, err)
	require.Equal(t, "1.0.1", app.Tag)
	require.Equal(t, "2", app.LimitsCPUs)

	require.NoError(t, c.StopApplication(ctx, uuid))
	eventually(t, clock, 250*time.Millisecond, 5*time.Minute, "exited", func() bool {
		app, err := c.GetApplication(ctx, uuid)
		require.NoError(t, err)
		state, _ := ParseStatus(app.Status)
		return state == StateExited
	})

	require.NoError(t, c.DeleteApplication(ctx, uuid))
	eventually(t, clock, 250*time.Millisecond, 5*time.Minute, "deleted", func() bool {
		_, err := c.GetApplication(ctx, uuid)
		if IsNotFound(err) {
			return true
		}
		require.NoError(t, err, "GET answers 200 until the delete job has run")
		return false
	})
	require.True(t, IsNotFound(c.DeleteApplication(ctx, uuid)), "already gone")

	got := ct.validated()
	for _, op := range ourOps {
		require.Positive(t, got[op], "%s was not exercised against the simulator", op)
	}
}

func TestSimErrors(t *testing.T) {
	t.Parallel()
	clock := newSimClock()
	env := startSim(t, clock, simOptions{})
	c, _ := newSimClient(t, env, clock, Config{})
	ctx := t.Context()
	const missing = "zzzzzzzzzzzzzzzzzzzzzzzz"

	_, err := c.GetApplication(ctx, missing)
	require.True(t, IsNotFound(err), "%v", err)
	_, err = c.StartApplication(ctx, missing)
	require.True(t, IsNotFound(err), "%v", err)
	require.True(t, IsNotFound(c.StopApplication(ctx, missing)))
	require.True(t, IsNotFound(c.UpdateApplication(ctx, missing, AppPatch{Tag: strPtr("x")})))
	require.True(t, IsNotFound(c.SetEnvs(ctx, missing, map[string]string{"A": "1"})))
	_, err = c.Deployments(ctx, missing, 1)
	require.True(t, IsNotFound(err), "%v", err)

	_, err = c.CreateApplication(ctx, CreateApp{ProjectUUID: missing, ServerUUID: env.ServerUUID,
		EnvironmentName: env.EnvironmentName, Image: "ghcr.io/meeboter/bot"})
	require.True(t, IsNotFound(err), "unknown project: %v", err)
	_, err = c.CreateApplication(ctx, CreateApp{ProjectUUID: env.ProjectUUID, ServerUUID: env.ServerUUID,
		EnvironmentName: env.EnvironmentName, Image: "not an image:sha256:x"})
	require.True(t, IsValidation(err), "%v", err)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	require.Contains(t, apiErr.Fields, "docker_registry_image_name")

	bad, _ := newSimClient(t, simEnv{BaseURL: env.BaseURL, Token: "1|wrong"}, clock, Config{})
	_, err = bad.ListApplications(ctx, "")
	require.True(t, IsUnauthorized(err), "%v", err)
}

// The simulator's throttle answers 429 with Retry-After; the client waits it
// out (on the shared fake clock) and every call still succeeds.
func TestSimRateLimit(t *testing.T) {
	t.Parallel()
	clock := newSimClock()
	env := startSim(t, clock, simOptions{RateLimitPerMinute: 5})
	var mu sync.Mutex
	var statuses []int
	c, _ := newSimClient(t, env, clock, Config{MaxRetries: 5, OnRequest: func(_ string, status int, _ time.Duration) {
		mu.Lock()
		statuses = append(statuses, status)
		mu.Unlock()
	}})
	for range 12 {
		_, err := c.ListApplications(context.Background(), "")
		require.NoError(t, err)
	}
	mu.Lock()
	defer mu.Unlock()
	require.Contains(t, statuses, http.StatusTooManyRequests)
	require.LessOrEqual(t, slices.Index(statuses, http.StatusTooManyRequests), 5, "the 6th request in a minute is refused")
	slept := time.Duration(0)
	for _, d := range clock.Slept() {
		slept += d
	}
	require.GreaterOrEqual(t, slept, time.Minute, "12 calls at 5 a minute wait for at least one new window")
}
