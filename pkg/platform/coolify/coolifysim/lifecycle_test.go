package coolifysim

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLifecycle drives one app through create, start (queued, in progress,
// finished), running with its env, and stop, on a fake clock.
func TestLifecycle(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	rec := &recorder{}
	s, c := newSim(t, Config{Clock: clock, Workload: rec.workload, ColdStart: 4 * time.Second, WarmStart: time.Second})
	uuid := c.createApp(s, nil)
	c.setEnv(uuid, map[string]string{"POOL_SLOT_UUID": "slot-1", "SLOT_TOKEN": "tok"})

	started := c.start(uuid)
	require.Equal(t, "Deployment request queued.", started["message"])
	dep := started["deployment_uuid"].(string)
	require.Regexp(t, `^[a-z0-9]{24}$`, dep)
	d := c.deployment(dep)
	require.Equal(t, "in_progress", d["status"], "a free build slot starts it at once")
	require.Equal(t, "HEAD", d["commit"])
	var active []map[string]any
	c.call(http.MethodGet, "/deployments", nil).decode(t, &active)
	require.Len(t, active, 1)
	require.Equal(t, "exited:unhealthy", c.status(uuid), "pulling: no container yet")

	clock.Advance(3 * time.Second) // the pull (3/4 of a cold start) is done
	require.Equal(t, "starting:unknown", c.status(uuid))
	require.Equal(t, "in_progress", c.deployment(dep)["status"])

	clock.Advance(time.Second)
	d = c.deployment(dep)
	require.Equal(t, "finished", d["status"])
	require.Equal(t, laravelTime(clock.Now()), d["finished_at"])
	require.Equal(t, "running:unknown", c.status(uuid))
	c.call(http.MethodGet, "/deployments", nil).decode(t, &active)
	require.Empty(t, active, "only queued and in-progress deployments are listed")
	require.Eventually(t, func() bool { _, live := rec.snapshot(); return live == 1 }, waitFor, tick)
	runs, _ := rec.snapshot()
	require.Equal(t, map[string]string{"POOL_SLOT_UUID": "slot-1", "SLOT_TOKEN": "tok"}, runs[0], "exactly the API env")

	// Env changes reach only the next deployment.
	c.setEnv(uuid, map[string]string{"SLOT_TOKEN": "tok2"})
	runs, _ = rec.snapshot()
	require.Len(t, runs, 1)

	r := c.call(http.MethodPost, "/applications/"+uuid+"/stop", nil)
	require.Equal(t, http.StatusOK, r.status)
	require.JSONEq(t, `{"message":"Application stopping request queued."}`, string(r.body))
	require.Eventually(t, func() bool { _, live := rec.snapshot(); return live == 0 }, waitFor, tick)
	require.Eventually(t, func() bool { return c.status(uuid) == "exited:unhealthy" }, waitFor, tick)
	require.False(t, snapshot(t, s, uuid).Running)

	// The next start is warm (the image stayed) and picks up the new env.
	dep2 := c.start(uuid)["deployment_uuid"].(string)
	clock.Advance(time.Second)
	require.Equal(t, "finished", c.deployment(dep2)["status"])
	require.Eventually(t, func() bool { _, live := rec.snapshot(); return live == 1 }, waitFor, tick)
	runs, _ = rec.snapshot()
	require.Equal(t, "tok2", runs[1]["SLOT_TOKEN"])

	var history struct {
		Count       int              `json:"count"`
		Deployments []map[string]any `json:"deployments"`
	}
	c.call(http.MethodGet, "/deployments/applications/"+uuid, nil).decode(t, &history)
	require.Equal(t, 2, history.Count)
	require.Equal(t, []any{dep2, dep}, []any{history.Deployments[0]["deployment_uuid"], history.Deployments[1]["deployment_uuid"]}, "newest first")
	c.call(http.MethodGet, "/deployments/applications/"+uuid+"?skip=1&take=5", nil).decode(t, &history)
	require.Equal(t, 2, history.Count)
	require.Len(t, history.Deployments, 1)
	r = c.call(http.MethodGet, "/deployments/applications/"+uuid+"?take=0", nil)
	require.Equal(t, http.StatusUnprocessableEntity, r.status)
	require.JSONEq(t, `{"message":"The take field must be at least 1.","errors":{"take":["The take field must be at least 1."]}}`, string(r.body))
	r = c.call(http.MethodGet, "/deployments/applications/"+uuid+"?take=0", nil, "Accept", "text/html")
	require.Equal(t, http.StatusFound, r.status, "$request->validate() redirects a request that does not want JSON")
	require.Positive(t, c.vt.validated.Load(), "every response above went through the OpenAPI check")
}

// TestConcurrentBuilds starts five apps with concurrent_builds 2: never
// more than two deployments are in progress, the rest wait queued.
func TestConcurrentBuilds(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s, c := newSim(t, Config{Clock: clock, ConcurrentBuilds: 2, ColdStart: 3 * time.Second, WarmStart: time.Second})
	var deps []string
	for range 5 {
		uuid := c.createApp(s, nil)
		deps = append(deps, c.start(uuid)["deployment_uuid"].(string))
	}
	statuses := func() map[string]int {
		n := map[string]int{}
		for _, d := range deps {
			n[c.deployment(d)["status"].(string)]++
		}
		return n
	}
	require.Equal(t, map[string]int{"in_progress": 2, "queued": 3}, statuses())
	for range 20 {
		clock.Advance(500 * time.Millisecond)
		n := statuses()
		require.LessOrEqual(t, n["in_progress"], 2, "%v", n)
		if n["finished"] == 5 {
			break
		}
	}
	require.Equal(t, map[string]int{"finished": 5}, statuses())
	st := s.Stats()
	require.Equal(t, 2, st.MaxInProgress)
	require.Equal(t, 5, st.Deployments)
	require.Zero(t, st.InProgress+st.Queued)
	// Two cold pulls side by side (3 s), then three warm starts two by two.
	require.Equal(t, 5, st.WorkloadStarts)
}

// TestStartOutcomes covers the skipped, forced, instant and queue-full
// answers of start.
func TestStartOutcomes(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s, c := newSim(t, Config{Clock: clock, ConcurrentBuilds: 1, DeploymentQueueLimit: 2})
	a := c.createApp(s, nil)
	first := c.start(a)["deployment_uuid"].(string)

	skipped := c.start(a)
	require.Equal(t, map[string]any{"message": "Deployment already queued for this commit."}, skipped, "no deployment_uuid")

	r := c.call(http.MethodPost, "/applications/"+a+"/start?force=true", nil)
	forced := r.object(t)["deployment_uuid"].(string)
	require.Equal(t, "queued", c.deployment(forced)["status"], "forced past de-dup, behind its own app")
	require.Equal(t, true, c.deployment(forced)["force_rebuild"])

	b := c.createApp(s, nil)
	queued := c.start(b)["deployment_uuid"].(string)
	require.Equal(t, "queued", c.deployment(queued)["status"])

	// The server's queue holds two: a third start answers a uuid that was
	// never stored.
	cc := c.createApp(s, nil)
	phantom := c.start(cc)
	require.Equal(t, "Deployment request queued.", phantom["message"])
	r = c.call(http.MethodGet, "/deployments/"+phantom["deployment_uuid"].(string), nil)
	require.Equal(t, http.StatusNotFound, r.status)
	require.JSONEq(t, `{"message":"Deployment not found."}`, string(r.body))

	// instant_deploy skips queuing (but not the queue-full check).
	r = c.call(http.MethodPost, "/deployments/"+queued+"/cancel", nil)
	require.Equal(t, http.StatusOK, r.status)
	require.JSONEq(t, `{"message":"Deployment cancelled successfully.","deployment_uuid":"`+queued+`","status":"cancelled-by-user"}`, string(r.body))
	r = c.call(http.MethodPost, "/deployments/"+queued+"/cancel", nil)
	require.Equal(t, http.StatusBadRequest, r.status)
	require.JSONEq(t, `{"message":"Deployment cannot be cancelled. Current status: cancelled-by-user"}`, string(r.body))
	instant := c.call(http.MethodPost, "/applications/"+cc+"/start", map[string]any{"instant_deploy": true}).object(t)
	require.Equal(t, "in_progress", c.deployment(instant["deployment_uuid"].(string))["status"])
	require.Equal(t, "in_progress", c.deployment(first)["status"])
	require.Equal(t, 2, s.Stats().InProgress, "instant deploys ignore concurrent_builds")

	clock.Advance(time.Minute)
	require.Equal(t, "finished", c.deployment(forced)["status"])
	require.Equal(t, "running:unknown", c.status(a))
	require.Equal(t, "running:unknown", c.status(cc))
	require.Equal(t, "exited:unhealthy", c.status(b))
}

// TestRestartIsRollingUpdate: restart deploys a new container with the
// current env, then stops the old one.
func TestRestartIsRollingUpdate(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	rec := &recorder{}
	s, c := newSim(t, Config{Clock: clock, Workload: rec.workload})
	uuid := c.createApp(s, nil)
	c.setEnv(uuid, map[string]string{"V": "1"})
	c.start(uuid)
	clock.Advance(time.Minute)
	require.Eventually(t, func() bool { _, live := rec.snapshot(); return live == 1 }, waitFor, tick)

	c.setEnv(uuid, map[string]string{"V": "2"})
	r := c.call(http.MethodPost, "/applications/"+uuid+"/restart", nil)
	require.Equal(t, http.StatusOK, r.status)
	restart := r.object(t)
	require.Equal(t, "Restart request queued.", restart["message"])
	require.Equal(t, true, c.deployment(restart["deployment_uuid"].(string))["restart_only"])
	clock.Advance(8 * time.Millisecond) // warm: pulled, the new container exists next to the old
	require.Equal(t, "starting:unknown", c.status(uuid))
	clock.Advance(time.Minute)
	require.Eventually(t, func() bool {
		runs, live := rec.snapshot()
		return len(runs) == 2 && live == 1
	}, waitFor, tick)
	runs, _ := rec.snapshot()
	require.Equal(t, "2", runs[1]["V"])
	require.Equal(t, "running:unknown", c.status(uuid))
}

func TestAsyncDelete(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	rec := &recorder{}
	s, c := newSim(t, Config{Clock: clock, Workload: rec.workload, DeleteDelay: 2 * time.Second})
	uuid := c.createApp(s, nil)
	dep := c.start(uuid)["deployment_uuid"].(string)
	clock.Advance(time.Minute)
	require.Eventually(t, func() bool { _, live := rec.snapshot(); return live == 1 }, waitFor, tick)

	r := c.call(http.MethodDelete, "/applications/"+uuid+"?docker_cleanup=false", nil)
	require.Equal(t, http.StatusOK, r.status)
	require.JSONEq(t, `{"message":"Application deletion request queued."}`, string(r.body))
	require.Equal(t, "running:unknown", c.status(uuid), "GET answers 200 until the job runs")
	require.True(t, snapshot(t, s, uuid).Deleting)

	clock.Advance(2 * time.Second)
	require.Eventually(t, func() bool {
		return c.call(http.MethodGet, "/applications/"+uuid, nil).status == http.StatusNotFound
	}, waitFor, tick)
	_, live := rec.snapshot()
	require.Zero(t, live, "the container was stopped first")
	r = c.call(http.MethodGet, "/applications/"+uuid, nil)
	require.JSONEq(t, `{"message":"Application not found."}`, string(r.body))
	r = c.call(http.MethodDelete, "/applications/"+uuid, nil)
	require.JSONEq(t, `{"message":"Application not found"}`, string(r.body))
	require.Equal(t, http.StatusNotFound, c.call(http.MethodGet, "/deployments/"+dep, nil).status)
	var list []any
	c.call(http.MethodGet, "/applications", nil).decode(t, &list)
	require.Empty(t, list)
	a := snapshot(t, s, uuid)
	require.True(t, a.Deleted)
	require.Equal(t, "exited:unhealthy", a.Status)
}

// TestCrashLoopHitsRestartLimit: a container that keeps dying is restarted
// by unless-stopped until max_restart_count, then Coolify stops it.
func TestCrashLoopHitsRestartLimit(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	rec := &recorder{}
	s, c := newSim(t, Config{Clock: clock, Workload: rec.workload, RestartDelay: time.Second})
	uuid := c.createApp(s, map[string]any{"max_restart_count": 3})
	c.start(uuid)
	clock.Advance(time.Minute)
	require.Eventually(t, func() bool { _, live := rec.snapshot(); return live == 1 }, waitFor, tick)

	s.CrashContainer(uuid, 137)
	require.Equal(t, "restarting:unknown", c.status(uuid))
	clock.Advance(time.Second)
	require.Equal(t, "running:unknown", c.status(uuid))
	a := c.call(http.MethodGet, "/applications/"+uuid, nil).object(t)
	require.EqualValues(t, 1, a["restart_count"])
	require.Equal(t, "crash", a["last_restart_type"])
	require.Eventually(t, func() bool { runs, live := rec.snapshot(); return len(runs) == 2 && live == 1 }, waitFor, tick)

	s.CrashContainer(uuid, 1)
	clock.Advance(2 * time.Second) // the backoff doubled
	require.Eventually(t, func() bool { runs, live := rec.snapshot(); return len(runs) == 3 && live == 1 }, waitFor, tick)
	require.EqualValues(t, 2, c.call(http.MethodGet, "/applications/"+uuid, nil).object(t)["restart_count"])

	s.CrashContainer(uuid, 1)
	require.Equal(t, "degraded:unhealthy", c.status(uuid), "exited with restarts: Coolify's crash loop")
	clock.Advance(time.Minute)
	require.Equal(t, "exited:unhealthy", c.status(uuid), "stopped and removed at the limit")
	a = c.call(http.MethodGet, "/applications/"+uuid, nil).object(t)
	require.EqualValues(t, 3, a["restart_count"], "the counters show why")
	runs, live := rec.snapshot()
	require.Len(t, runs, 3)
	require.Zero(t, live)
	snap := snapshot(t, s, uuid)
	require.False(t, snap.Running)
	require.Equal(t, 1, *snap.LastExitCode)
}

// TestSelfExitingWorkloadIsRestarted: a bot that exits by itself, even
// with 0, is restarted and counted (unless-stopped), until the limit.
func TestSelfExitingWorkloadIsRestarted(t *testing.T) {
	t.Parallel()
	var runs atomic.Int32
	exits := func(context.Context, map[string]string) int {
		runs.Add(1)
		return 0
	}
	s, c := newSim(t, Config{Workload: exits, RestartDelay: time.Millisecond})
	uuid := c.createApp(s, map[string]any{"max_restart_count": 4})
	c.start(uuid)
	require.Eventually(t, func() bool {
		a := snapshot(t, s, uuid)
		return a.Status == "exited:unhealthy" && a.RestartCount == 4
	}, waitFor, tick)
	require.EqualValues(t, 4, runs.Load())
	require.Equal(t, 4, snapshot(t, s, uuid).Starts)
}

func TestVanishedContainer(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	rec := &recorder{}
	s, c := newSim(t, Config{Clock: clock, Workload: rec.workload})
	uuid := c.createApp(s, nil)
	c.start(uuid)
	clock.Advance(time.Minute)
	require.Eventually(t, func() bool { _, live := rec.snapshot(); return live == 1 }, waitFor, tick)

	s.VanishContainer(uuid)
	require.Equal(t, "exited:unhealthy", c.status(uuid))
	require.Eventually(t, func() bool { _, live := rec.snapshot(); return live == 0 }, waitFor, tick)
	clock.Advance(time.Minute)
	runs, _ := rec.snapshot()
	require.Len(t, runs, 1, "nothing restarts a container Docker no longer has")
	require.Zero(t, snapshot(t, s, uuid).RestartCount)
}

// TestStatusLag: GET shows the status as of now-StatusLag.
func TestStatusLag(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s, c := newSim(t, Config{Clock: clock, StatusLag: 30 * time.Second, ColdStart: time.Second})
	uuid := c.createApp(s, nil)
	c.start(uuid)
	clock.Advance(time.Second)
	require.Equal(t, "running:unknown", snapshot(t, s, uuid).Status)
	require.Equal(t, "exited:unhealthy", c.status(uuid), "not yet seen")
	clock.Advance(29 * time.Second)
	require.Equal(t, "exited:unhealthy", c.status(uuid))
	clock.Advance(time.Second)
	require.Equal(t, "running:unknown", c.status(uuid))

	c.call(http.MethodPost, "/applications/"+uuid+"/stop", nil)
	require.Eventually(t, func() bool { return snapshot(t, s, uuid).Status == "exited:unhealthy" }, waitFor, tick)
	require.Equal(t, "running:unknown", c.status(uuid), "a stopped app still shows running")
	s.SetStatusLag(0)
	require.Equal(t, "exited:unhealthy", c.status(uuid))
}

// TestColdThenWarmStarts: the first start of an image pulls it; a delete
// with docker_cleanup prunes it when nothing else uses it.
func TestColdThenWarmStarts(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s, c := newSim(t, Config{Clock: clock, ColdStart: 10 * time.Second, WarmStart: time.Second, DeleteDelay: time.Millisecond})
	first := c.createApp(s, nil)
	dep := c.start(first)["deployment_uuid"].(string)
	clock.Advance(time.Second)
	require.Equal(t, "in_progress", c.deployment(dep)["status"], "cold")
	clock.Advance(9 * time.Second)
	require.Equal(t, "finished", c.deployment(dep)["status"])

	second := c.createApp(s, nil)
	dep = c.start(second)["deployment_uuid"].(string)
	clock.Advance(time.Second)
	require.Equal(t, "finished", c.deployment(dep)["status"], "warm")

	// Both deleted with cleanup: the image goes, the next start is cold.
	for _, a := range []string{first, second} {
		c.call(http.MethodDelete, "/applications/"+a, nil)
	}
	clock.Advance(time.Minute)
	require.Eventually(t, func() bool { return len(s.Stats().Calls) > 0 && len(liveApps(s)) == 0 }, waitFor, tick)
	third := c.createApp(s, nil)
	dep = c.start(third)["deployment_uuid"].(string)
	clock.Advance(time.Second)
	require.Equal(t, "in_progress", c.deployment(dep)["status"], "cold again")
}

func liveApps(s *Sim) []AppSnapshot {
	var out []AppSnapshot
	for _, a := range s.Apps() {
		if !a.Deleted {
			out = append(out, a)
		}
	}
	return out
}

// TestInstantDeploy: instant_deploy on create queues a deployment past the
// concurrency limit (the 201 carries no deployment uuid); on PATCH it is a
// normal, de-duplicated deployment.
func TestInstantDeploy(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	s, c := newSim(t, Config{Clock: clock, ConcurrentBuilds: 1})
	first := c.createApp(s, map[string]any{"instant_deploy": true})
	second := c.createApp(s, map[string]any{"instant_deploy": true})
	for _, uuid := range []string{first, second} {
		var history struct {
			Deployments []map[string]any `json:"deployments"`
		}
		c.call(http.MethodGet, "/deployments/applications/"+uuid, nil).decode(t, &history)
		require.Len(t, history.Deployments, 1)
		require.Equal(t, "in_progress", history.Deployments[0]["status"])
	}
	require.Equal(t, 2, s.Stats().InProgress)

	r := c.call(http.MethodPatch, "/applications/"+first, map[string]any{"instant_deploy": true, "limits_memory": "1g"})
	require.Equal(t, http.StatusOK, r.status)
	require.JSONEq(t, `{"message":"Deployment already queued for this commit."}`, string(r.body), "saved, not deployed twice")
	clock.Advance(time.Minute)
	r = c.call(http.MethodPatch, "/applications/"+first, map[string]any{"instant_deploy": true})
	require.JSONEq(t, `{"uuid":"`+first+`"}`, string(r.body))
	require.Equal(t, 3, s.Stats().Deployments)
	require.Equal(t, "1g", c.call(http.MethodGet, "/applications/"+first, nil).object(t)["limits_memory"])
}
