package coolifysim

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRateLimit: Laravel's per-user limiter, a minute from the first hit.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s, c := newSim(t, Config{Clock: clock, RateLimitPerMinute: 3})
	for i := range 3 {
		r := c.call(http.MethodGet, "/applications", nil)
		require.Equal(t, http.StatusOK, r.status)
		require.Equal(t, "3", r.header.Get("X-RateLimit-Limit"))
		require.Equal(t, strconv.Itoa(2-i), r.header.Get("X-RateLimit-Remaining"))
		clock.Advance(time.Second)
	}
	r := c.call(http.MethodGet, "/deployments", nil)
	require.Equal(t, http.StatusTooManyRequests, r.status)
	require.JSONEq(t, `{"message":"Too Many Attempts."}`, string(r.body))
	require.Equal(t, "57", r.header.Get("Retry-After"), "the window opened at the first hit")
	require.Equal(t, "0", r.header.Get("X-RateLimit-Remaining"))
	require.Equal(t, strconv.FormatInt(clock.Now().Add(57*time.Second).Unix(), 10), r.header.Get("X-RateLimit-Reset"))

	// A request that does not ask for JSON gets Laravel's HTML page.
	r = c.call(http.MethodGet, "/deployments", nil, "Accept", "")
	require.Equal(t, http.StatusTooManyRequests, r.status)
	require.Contains(t, r.header.Get("Content-Type"), "text/html")
	require.Contains(t, string(r.body), "429 | Too Many Requests")

	// Unauthenticated calls neither count nor are throttled per user.
	c.token = "wrong"
	require.Equal(t, http.StatusUnauthorized, c.call(http.MethodGet, "/applications", nil).status)
	c.token = testToken

	clock.Advance(57 * time.Second)
	r = c.call(http.MethodGet, "/applications", nil)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "2", r.header.Get("X-RateLimit-Remaining"))
	require.Equal(t, 2, s.Stats().Throttled)
}

func TestStorm429(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s, c := newSim(t, Config{Clock: clock})
	uuid := c.createApp(s, nil)
	s.Storm429(10 * time.Second)
	clock.Advance(2 * time.Second)
	for _, path := range []string{"/applications", "/applications/" + uuid, "/deployments"} {
		r := c.call(http.MethodGet, path, nil)
		require.Equal(t, http.StatusTooManyRequests, r.status, path)
		require.Equal(t, "8", r.header.Get("Retry-After"))
	}
	r := c.call(http.MethodPost, "/applications/"+uuid+"/start", nil)
	require.Equal(t, http.StatusTooManyRequests, r.status)
	require.Zero(t, s.Stats().Deployments, "a throttled call does nothing")
	clock.Advance(8 * time.Second)
	require.Equal(t, http.StatusOK, c.call(http.MethodGet, "/applications", nil).status)
}

func TestErrorRate(t *testing.T) {
	t.Parallel()
	s, c := newSim(t, Config{Seed: 42})
	uuid := c.createApp(s, nil)

	s.SetErrorRate(1)
	body := map[string]any{"project_uuid": s.Config().ProjectUUID, "server_uuid": s.Config().ServerUUID,
		"environment_name": "production", "docker_registry_image_name": "nginx"}
	r := c.call(http.MethodPost, "/applications/dockerimage", body)
	require.Equal(t, http.StatusInternalServerError, r.status)
	require.JSONEq(t, `{"message":"Server Error"}`, string(r.body))
	require.Len(t, s.Apps(), 1, "a 500 before the controller creates nothing")

	s.SetErrorRate(0.5)
	codes := map[int]int{}
	for range 200 {
		codes[c.call(http.MethodGet, "/applications/"+uuid, nil).status]++
	}
	require.InDelta(t, 100, codes[http.StatusInternalServerError], 30)
	require.InDelta(t, 100, codes[http.StatusOK], 30)

	// The "after" rate: the call takes effect, its answer is lost.
	s.SetErrorRate(0)
	s.SetErrorAfterRate(1)
	r = c.call(http.MethodPost, "/applications/dockerimage", body)
	require.Equal(t, http.StatusInternalServerError, r.status)
	require.Len(t, s.Apps(), 2, "created anyway")
	require.Equal(t, 2+codes[http.StatusInternalServerError], s.Stats().InjectedErrors)
}

func TestFailLists(t *testing.T) {
	t.Parallel()
	s, c := newSim(t, Config{})
	uuid := c.createApp(s, nil)
	s.FailLists(2)
	require.Equal(t, http.StatusOK, c.call(http.MethodGet, "/applications/"+uuid, nil).status, "only lists fail")
	for range 2 {
		r := c.call(http.MethodGet, "/applications?tag=x", nil)
		require.Equal(t, http.StatusInternalServerError, r.status)
		require.JSONEq(t, `{"message":"Server Error"}`, string(r.body))
	}
	require.Equal(t, http.StatusOK, c.call(http.MethodGet, "/applications", nil).status)
}

// TestControlEndpoints drives the knobs over HTTP, as hack/sim users do.
func TestControlEndpoints(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	s, c := newSim(t, Config{Workload: rec.workload})
	uuid := c.createApp(s, map[string]any{"name": "bot-1"})

	r := c.call(http.MethodPost, "/_sim/knobs", map[string]any{"cold_start_ms": 5, "status_lag_ms": 0, "fail_lists": 1})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	knobs := r.object(t)
	require.EqualValues(t, 5, knobs["cold_start_ms"])
	require.EqualValues(t, 1, knobs["fail_lists"])
	require.Equal(t, http.StatusInternalServerError, c.call(http.MethodGet, "/applications", nil).status)

	c.start(uuid)
	require.Eventually(t, func() bool { _, live := rec.snapshot(); return live == 1 }, waitFor, tick)
	r = c.call(http.MethodPost, "/_sim/apps/"+uuid+"/crash", map[string]any{"exit_code": 3})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Eventually(t, func() bool { runs, live := rec.snapshot(); return len(runs) == 2 && live == 1 }, waitFor, tick)
	require.Equal(t, http.StatusOK, c.call(http.MethodPost, "/_sim/apps/"+uuid+"/vanish", nil).status)
	require.Equal(t, http.StatusConflict, c.call(http.MethodPost, "/_sim/apps/"+uuid+"/vanish", nil).status, "nothing left")
	require.Equal(t, http.StatusNotFound, c.call(http.MethodPost, "/_sim/apps/nope/crash", nil).status)

	var apps []AppSnapshot
	c.call(http.MethodGet, "/_sim/apps", nil).decode(t, &apps)
	require.Len(t, apps, 1)
	require.Equal(t, "bot-1", apps[0].Name)
	require.Equal(t, 1, apps[0].RestartCount)
	require.Equal(t, 3, *apps[0].LastExitCode)
	require.Equal(t, "exited:unhealthy", apps[0].Status)

	var st Stats
	c.call(http.MethodGet, "/_sim/stats", nil).decode(t, &st)
	require.Equal(t, 1, st.Calls["POST /applications/{uuid}/start"])
	require.Equal(t, 1, st.Calls["GET /applications"])
	require.Equal(t, 1, st.InjectedErrors)
	require.Equal(t, 2, st.WorkloadStarts)

	r = c.call(http.MethodPost, "/_sim/knobs", map[string]any{"storm_429_seconds": 60})
	require.Equal(t, http.StatusOK, r.status)
	r = c.call(http.MethodGet, "/applications", nil)
	require.Equal(t, http.StatusTooManyRequests, r.status)
	require.True(t, strings.HasPrefix(r.header.Get("Retry-After"), "6"), r.header.Get("Retry-After"))
}
