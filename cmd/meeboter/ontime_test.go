package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/platform/ecs/ecssim"
)

// TestScheduledBotLearnsTheLeadTimeAndEntersOnTime: with ECS tasks that take
// startDelay to start, the controller learns the lead time from its first
// deployments (above a 1 s floor), admits a scheduled bot at least that
// long before its join_at, and the bot waits READY and enters at join_at.
func TestScheduledBotLearnsTheLeadTimeAndEntersOnTime(t *testing.T) {
	t.Parallel()
	const startDelay = 3 * time.Second
	s, sim := ecsSystem(t, "LEAD_TIME_FLOOR_AWS=1s", "JOIN_LEAD_TIME=1s", "RESYNC_INTERVAL=5s")
	sim.SetDelays(ecssim.Delays{Provisioning: 100 * time.Millisecond, Pending: startDelay, Stop: 100 * time.Millisecond})
	addr := freeAddr(t)
	c := s.start(addr, &lockedBuffer{})
	defer c.stop(t)

	var learners []botView
	for range 6 {
		learners = append(learners, s.createBot(addr, simulate(map[string]any{"call_seconds": 0.5})))
	}
	for _, b := range learners {
		require.Equal(t, "DONE", s.waitStatus(addr, b.ID, time.Minute, "DONE", "FATAL").Status)
	}
	var lead float64
	require.Eventually(t, func() bool {
		var pv struct {
			Platforms []struct {
				Name      string  `json:"name"`
				Lead      float64 `json:"lead_time_seconds"`
				LeadTimes []struct {
					Basis string `json:"basis"`
				} `json:"lead_times"`
			} `json:"platforms"`
		}
		code, err := s.api(addr, http.MethodGet, "/api/v1/platforms", nil, &pv)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code)
		lead = pv.Platforms[0].Lead
		return pv.Platforms[0].LeadTimes[0].Basis == "learned"
	}, 20*time.Second, 200*time.Millisecond, "the lead is learned from six deployments")
	require.GreaterOrEqual(t, lead, startDelay.Seconds(), "the lead covers the start time")
	t.Logf("learned ECS lead time: %.2fs for %s starts", lead, startDelay)

	joinAt := time.Now().Add(20 * time.Second).UTC().Truncate(time.Second)
	body := simulate(map[string]any{"call_seconds": 0.5})
	body["join_at"] = joinAt.Format(time.RFC3339)
	b := s.createBot(addr, body)
	s.waitStatus(addr, b.ID, time.Minute, "DONE", "FATAL")
	var got struct {
		Status   string   `json:"status"`
		Lateness *float64 `json:"join_lateness_seconds"`
	}
	code, err := s.api(addr, http.MethodGet, "/api/v1/bots/"+b.ID, nil, &got)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "DONE", got.Status)
	require.NotNil(t, got.Lateness)
	require.GreaterOrEqual(t, *got.Lateness, 0.0, "never early")
	require.Less(t, *got.Lateness, 1.0, "on time")

	var events struct {
		Events []struct {
			Type       string    `json:"type"`
			OccurredAt time.Time `json:"occurred_at"`
		} `json:"events"`
	}
	_, err = s.api(addr, http.MethodGet, "/api/v1/bots/"+b.ID+"/events", nil, &events)
	require.NoError(t, err)
	at := map[string]time.Time{}
	for _, e := range events.Events {
		if _, seen := at[e.Type]; !seen {
			at[e.Type] = e.OccurredAt
		}
	}
	require.Contains(t, at, "READY", "it waited READY for join_at")
	admitted := joinAt.Sub(at["DEPLOYING"])
	require.GreaterOrEqual(t, admitted, startDelay, "admitted at least a start time before join_at")
	require.Less(t, admitted.Seconds(), lead+2, "and not much earlier than the lead")
	t.Logf("admitted %.2fs before join_at, READY %.2fs before, lateness %.3fs", admitted.Seconds(),
		joinAt.Sub(at["READY"]).Seconds(), *got.Lateness)
}

// TestScheduledBotsEnterOnTimeAcrossCrashes SIGKILLs `meeboter serve`
// between a scheduled bot's reservation and its admission, and another's
// between its admission and its task's creation (RunTask failing
// meanwhile); each restarted controller still gets its bot in on time.
func TestScheduledBotsEnterOnTimeAcrossCrashes(t *testing.T) {
	t.Parallel()
	s, sim := ecsSystem(t, "LEAD_TIME_FLOOR_AWS=6s", "JOIN_LEAD_TIME=1s", "RESERVE_AHEAD=10s", "RESYNC_INTERVAL=5s")
	addr := freeAddr(t)
	logs := &lockedBuffer{}
	c := s.start(addr, logs)
	defer func() { c.stop(t) }()
	scheduled := func(ahead time.Duration) (botView, time.Time) {
		joinAt := time.Now().Add(ahead).UTC().Truncate(time.Second)
		body := simulate(map[string]any{"call_seconds": 0.5})
		body["join_at"] = joinAt.Format(time.RFC3339)
		var v struct {
			botView
			Reserved bool `json:"capacity_reserved"`
		}
		code, err := s.api(addr, http.MethodPost, "/api/v1/bots", body, &v)
		require.NoError(t, err)
		require.Equal(t, http.StatusCreated, code)
		require.True(t, v.Reserved, "reserved: created more than RESERVE_AHEAD ahead")
		return v.botView, joinAt
	}

	// Reserved, then the controller dies well before the bot's admission.
	reserved, _ := scheduled(20 * time.Second)
	c.kill()
	time.Sleep(2 * time.Second)
	c = s.start(addr, logs)
	requireOnTime(t, s, addr, reserved.ID)

	// Admitted, its RunTask failing, then the controller dies; it comes
	// back to an ECS that answers.
	sim.SetErrorRate(1)
	before := sim.Stats()
	admitted, _ := scheduled(15 * time.Second)
	s.waitStatus(addr, admitted.ID, 15*time.Second, "DEPLOYING")
	require.Eventually(t, func() bool { return sim.Stats().Calls["RunTask"] > before.Calls["RunTask"] }, 5*time.Second,
		20*time.Millisecond, "its RunTask was tried")
	require.Equal(t, before.Launched, sim.Stats().Launched, "and failed: no task yet")
	c.kill()
	sim.SetErrorRate(0)
	c = s.start(addr, logs)
	requireOnTime(t, s, addr, admitted.ID)
}

// requireOnTime waits for a scheduled bot to finish and requires it entered
// its meeting within a second of join_at, not before.
func requireOnTime(t *testing.T, s *system, addr, id string) {
	t.Helper()
	require.Equal(t, "DONE", s.waitStatus(addr, id, time.Minute, "DONE", "FATAL").Status)
	var got struct {
		Lateness *float64 `json:"join_lateness_seconds"`
	}
	code, err := s.api(addr, http.MethodGet, "/api/v1/bots/"+id, nil, &got)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)
	require.NotNil(t, got.Lateness, "it entered its meeting")
	require.GreaterOrEqual(t, *got.Lateness, 0.0, "never early")
	require.Less(t, *got.Lateness, 1.0, "on time")
	t.Logf("bot %s: lateness %.3fs", id, *got.Lateness)
}
