package main

import (
	"maps"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCLITenantLimits: every tenant with its effective limits (defaults
// from the environment, marked), a tenant's limits set and reset, and the
// stored cap enforced by the API. tableRows splits cells on spaces, so
// "50 (default)" is two.
func TestCLITenantLimits(t *testing.T) {
	t.Parallel()
	a := newCLIAPI(t)
	a.env = maps.Clone(a.env)
	a.env["TENANT_RATE_LIMIT"], a.env["TENANT_MAX_BOTS"] = "50", "0"
	a.ok(t, "apikey", "create", "--owner", "other")

	require.Equal(t, [][]string{
		{"TENANT", "RATE_PER_SECOND", "BURST", "MAX_BOTS"},
		{"cli", "50", "(default)", "300", "(default)", "none", "(default)"},
		{"other", "50", "(default)", "300", "(default)", "none", "(default)"},
	}, tableRows(a.ok(t, "tenants", "limits")))

	out := a.ok(t, "tenants", "limits", "cli", "--max-bots", "1", "--rate", "2.5")
	require.Equal(t, []string{"cli", "2.5", "300", "(default)", "1"}, tableRows(out)[1])
	a.createBot(t, "--meeting-url", cliMeetURL)
	code, _, errOut := runEnv(t, a.env, "bots", "create", "--meeting-url", cliMeetURL)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "429 Too Many Requests")
	require.Contains(t, errOut, "cap (max_bots) is 1")

	out = a.ok(t, "tenants", "limits", "cli", "--rate", "default")
	require.Equal(t, []string{"cli", "50", "(default)", "300", "(default)", "1"}, tableRows(out)[1])
	out = a.ok(t, "tenants", "limits", "cli", "--reset")
	require.Equal(t, []string{"cli", "50", "(default)", "300", "(default)", "none", "(default)"}, tableRows(out)[1])
	a.createBot(t, "--meeting-url", cliMeetURL)

	for _, args := range [][]string{
		{"tenants"}, {"tenants", "limits", "--rate", "1"}, {"tenants", "limits", "cli", "--max-bots", "-1"},
		{"tenants", "limits", "cli", "--rate", "fast"}, {"tenants", "limits", "cli", "extra"},
	} {
		code, _, errOut := runEnv(t, a.env, args...)
		require.Equal(t, 2, code, "%v: %s", args, errOut)
		require.Contains(t, errOut, "usage: meeboter tenants limits", "%v", args)
	}
}
