package config_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/config"
)

func TestLoadTenantLimits(t *testing.T) {
	t.Parallel()
	c, err := config.Load(env{"TENANT_RATE_LIMIT": "2.5", "TENANT_RATE_BURST": "10", "TENANT_MAX_BOTS": "0"}.getenv)
	require.NoError(t, err)
	require.Equal(t, config.Tenants{RatePerSecond: 2.5, RateBurst: 10, MaxBots: 0}, c.Tenants)

	for name, v := range map[string]string{"TENANT_RATE_LIMIT": "-1", "TENANT_RATE_BURST": "many", "TENANT_MAX_BOTS": "-3"} {
		_, err := config.Load(env{name: v}.getenv)
		require.ErrorContains(t, err, name, "%s=%s", name, v)
	}
	_, err = config.Load(env{"TENANT_RATE_LIMIT": "NaN"}.getenv)
	require.ErrorContains(t, err, "TENANT_RATE_LIMIT")
}
