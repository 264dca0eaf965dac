package main

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/platform"
)

// TestEndToEnd runs the real binaries: `meeboter serve` on the local
// platform, bots as real `meeboter-bot --simulate` processes, driven through
// the user API.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	metricsAddr := freeAddr(t)
	s := newSystem(t, "HEARTBEAT_TIMEOUT=10s", "METRICS_CACHE_TTL=100ms", "METRICS_ADDR="+metricsAddr,
		"OPERATOR_TOKEN="+e2eOperatorToken)
	addr := freeAddr(t)
	c := s.start(addr, &lockedBuffer{})
	before := scrape(t, metricsAddr)

	// Parallel subtests run inside the group, so the checks below run after them.
	t.Run("group", func(t *testing.T) {
		t.Run("bot reaches DONE", func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			b := s.createBot(addr, simulate(map[string]any{"call_seconds": 1}))
			s.waitStatus(addr, b.ID, 30*time.Second, "IN_CALL", "LEAVING", "DONE")
			t.Logf("POST to IN_CALL on the local platform: %s", time.Since(start).Round(time.Millisecond))
			done := s.waitStatus(addr, b.ID, 30*time.Second, "DONE", "FATAL")
			require.Equal(t, "DONE", done.Status)
			require.Equal(t, "completed", *done.StatusReason)
			requireSubsequence(t, s.events(addr, b.ID), "QUEUED", "DEPLOYING", "JOINING_CALL", "IN_CALL", "PARTICIPANT_JOIN", "LEAVING", "DONE")
		})
		t.Run("leave ends the call gracefully", func(t *testing.T) {
			t.Parallel()
			b := s.createBot(addr, simulate(map[string]any{"call_seconds": 0}))
			s.waitStatus(addr, b.ID, 30*time.Second, "IN_CALL")
			code, err := s.api(addr, http.MethodPost, "/api/v1/bots/"+b.ID+"/leave", nil, nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusAccepted, code)
			done := s.waitStatus(addr, b.ID, 30*time.Second, "DONE", "FATAL")
			require.Equal(t, "DONE", done.Status)
			require.Equal(t, "removed", *done.StatusReason)
		})
		t.Run("cancel stops a bot that ignores leave", func(t *testing.T) {
			t.Parallel()
			b := s.createBot(addr, simulate(map[string]any{"call_seconds": 0, "ignore_leave": true}))
			s.waitStatus(addr, b.ID, 30*time.Second, "IN_CALL")
			code, err := s.api(addr, http.MethodDelete, "/api/v1/bots/"+b.ID, nil, nil)
			require.NoError(t, err)
			require.Equal(t, http.StatusAccepted, code)
			done := s.waitStatus(addr, b.ID, 30*time.Second, "DONE", "FATAL")
			require.Equal(t, "cancelled", *done.StatusReason)
			s.waitNoProcess(t, b.ID, 20*time.Second)
		})
		t.Run("leave is forced after the leave deadline", func(t *testing.T) {
			t.Parallel()
			b := s.createBot(addr, simulate(map[string]any{"call_seconds": 0, "ignore_leave": true}))
			s.waitStatus(addr, b.ID, 30*time.Second, "IN_CALL")
			_, err := s.api(addr, http.MethodPost, "/api/v1/bots/"+b.ID+"/leave", nil, nil)
			require.NoError(t, err)
			done := s.waitStatus(addr, b.ID, 40*time.Second, "DONE", "FATAL")
			require.Equal(t, "FATAL", done.Status)
			require.Equal(t, "leave_timeout", *done.StatusReason)
			s.waitNoProcess(t, b.ID, 20*time.Second)
		})
		t.Run("a container that exits before the call is retried, then FATAL", func(t *testing.T) {
			t.Parallel()
			b := s.createBot(addr, simulate(map[string]any{"crash_at": "IN_CALL"}))
			done := s.waitStatus(addr, b.ID, 60*time.Second, "DONE", "FATAL")
			require.Equal(t, "FATAL", done.Status)
			require.Equal(t, "container_exited", *done.StatusReason)
			require.Equal(t, 3, done.Attempt, "MAX_ATTEMPTS attempts")
		})
		t.Run("a bot that stops beating is ended and stopped", func(t *testing.T) {
			t.Parallel()
			b := s.createBot(addr, simulate(map[string]any{"call_seconds": 0, "no_heartbeat": true}))
			done := s.waitStatus(addr, b.ID, 40*time.Second, "DONE", "FATAL")
			require.Equal(t, "heartbeat_timeout", *done.StatusReason)
			s.waitNoProcess(t, b.ID, 20*time.Second)
		})
		t.Run("an orphan process is collected", func(t *testing.T) {
			t.Parallel()
			name := "meeboter-00000000-0000-0000-0000-000000000000-1"
			_, err := s.view.Create(context.Background(), platform.Workload{Name: name})
			require.NoError(t, err)
			require.Eventually(t, func() bool { return s.botProcesses()[name] == 0 }, 30*time.Second, 100*time.Millisecond,
				"the garbage collector did not stop a process no deployment owns")
		})
	})
	require.Eventually(t, func() bool { return len(s.botProcesses()) == 0 }, 30*time.Second, 100*time.Millisecond)
	requireMetricsMoved(t, metricsAddr, before)
	requireRiverUI(t, metricsAddr, addr)
	c.stop(t)
}

func (s *system) waitNoProcess(t *testing.T, botID string, timeout time.Duration) {
	t.Helper()
	require.Eventually(t, func() bool {
		for name := range s.botProcesses() {
			if botOf(name) == botID {
				return false
			}
		}
		return true
	}, timeout, 50*time.Millisecond, "bot %s still has a process", botID)
}

// requireSubsequence checks that want appears in got in order.
func requireSubsequence(t *testing.T, got []string, want ...string) {
	t.Helper()
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	require.Equal(t, len(want), i, "want %v in order within %v", want, got)
}
