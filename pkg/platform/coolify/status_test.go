package coolify

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseStatus(t *testing.T) {
	t.Parallel()
	for s, want := range map[string][2]string{
		// What the API sends (coolify-api.md §4).
		"exited:unhealthy":   {StateExited, HealthUnhealthy},
		"running:healthy":    {StateRunning, HealthHealthy},
		"running:unhealthy":  {StateRunning, HealthUnhealthy},
		"running:unknown":    {StateRunning, HealthUnknown},
		"restarting:unknown": {StateRestarting, HealthUnknown},
		"degraded:unhealthy": {StateDegraded, HealthUnhealthy},
		"starting:unknown":   {StateStarting, HealthUnknown},
		"paused:unknown":     {StatePaused, HealthUnknown},
		// Forms Coolify's accessor also reads.
		"running (healthy)":        {StateRunning, HealthHealthy},
		"running (unhealthy)":      {StateRunning, HealthUnhealthy},
		"exited (unhealthy) extra": {StateExited, HealthUnhealthy},
		"exited":                   {StateExited, HealthUnhealthy},
		"running":                  {StateRunning, HealthUnhealthy},
		"running:starting":         {StateRunning, "starting"},
		"running:":                 {StateRunning, HealthUnhealthy},
		" Running:Healthy ":        {StateRunning, HealthHealthy},
		"":                         {"", ""},
		"   ":                      {"", ""},
	} {
		state, health := ParseStatus(s)
		require.Equal(t, want, [2]string{state, health}, "%q", s)
	}
}

func FuzzParseStatus(f *testing.F) {
	for _, s := range []string{"running:healthy", "running (healthy)", "exited", "", "a:b:c", "((", "x (y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		state, health := ParseStatus(s)
		if strings.TrimSpace(s) == "" {
			require.Empty(t, state)
			require.Empty(t, health)
			return
		}
		require.NotEmpty(t, health)
		// What ParseStatus returns reads back the same in Coolify's own form,
		// unless a part holds a separator itself.
		if !strings.ContainsAny(state, ":(") && !strings.ContainsAny(health, ":()") && state != "" {
			s2, h2 := ParseStatus(state + ":" + health)
			require.Equal(t, [2]string{state, health}, [2]string{s2, h2})
		}
	})
}

func FuzzNewAPIError(f *testing.F) {
	for _, s := range []string{validationJSON, conflictJSON, badContentTypeJSON, "<html>", "", `{"errors": [1]}`, `{"message": 5}`} {
		f.Add(422, s, "60")
	}
	f.Fuzz(func(t *testing.T, status int, body, retryAfter string) {
		e := newAPIError("op", status, map[string][]string{"Retry-After": {retryAfter}}, []byte(body), time.Date(2026, 8, 22, 10, 0, 0, 0, time.UTC))
		require.NotEmpty(t, e.Error())
		require.GreaterOrEqual(t, e.RetryAfter, 0*maxRetryAfter)
		require.LessOrEqual(t, e.RetryAfter, maxRetryAfter)
	})
}
