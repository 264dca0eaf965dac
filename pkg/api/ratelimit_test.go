package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/store"
)

func setupLimits(t *testing.T, def store.Limits) *testBundle {
	t.Helper()
	return setupWith(t, func(s *Server) { s.Config.TenantDefaults = def })
}

func requireRateHeaders(t *testing.T, r reply, limit, remaining, reset string) {
	t.Helper()
	require.Equal(t, limit, r.header.Get("RateLimit-Limit"))
	require.Equal(t, remaining, r.header.Get("RateLimit-Remaining"))
	require.Equal(t, reset, r.header.Get("RateLimit-Reset"))
}

// A key beyond its rate gets 429 with Retry-After and the RateLimit
// headers, until its bucket refills; another tenant's key is unaffected.
func TestRateLimitPerKey(t *testing.T) {
	t.Parallel()
	b := setupLimits(t, store.Limits{RatePerSecond: 0.5, RateBurst: 3})
	for i, remaining := range []string{"2", "1", "0"} {
		r := b.do(t, http.MethodGet, "/api/v1/bots", b.acme, "")
		r.requireStatus(t, http.StatusOK)
		requireRateHeaders(t, r, "3", remaining, []string{"2", "4", "6"}[i])
	}
	r := b.do(t, http.MethodGet, "/api/v1/bots", b.acme, "")
	r.requireStatus(t, http.StatusTooManyRequests)
	require.Equal(t, "2", r.header.Get("Retry-After"))
	requireRateHeaders(t, r, "3", "0", "6")
	require.Contains(t, r.problem(t).Detail, "0.5 requests per second")
	b.do(t, http.MethodPost, "/api/v1/bots", b.acme, meetingBody(meetURL)).requireStatus(t, http.StatusTooManyRequests)

	b.do(t, http.MethodGet, "/api/v1/bots", b.globex, "").requireStatus(t, http.StatusOK)
	b.clock.Advance(2 * time.Second)
	b.do(t, http.MethodGet, "/api/v1/bots", b.acme, "").requireStatus(t, http.StatusOK)
	b.do(t, http.MethodGet, "/api/v1/bots", b.acme, "").requireStatus(t, http.StatusTooManyRequests)
	bots, err := b.st.ListBots(t.Context(), "acme", store.BotFilter{Limit: 10})
	require.NoError(t, err)
	require.Empty(t, bots, "a limited create writes nothing")
	b.requireValidated(t)
}

// Each key of a tenant has its own bucket, a tenant's stored limits
// override the defaults (within tenantLimitsTTL), and a rate of 0 is none.
func TestRateLimitTenantOverride(t *testing.T) {
	t.Parallel()
	b := setupLimits(t, store.Limits{RatePerSecond: 1, RateBurst: 1})
	second := b.apiKey(t, "acme")
	b.do(t, http.MethodGet, "/api/v1/bots", b.acme, "").requireStatus(t, http.StatusOK)
	b.do(t, http.MethodGet, "/api/v1/bots", b.acme, "").requireStatus(t, http.StatusTooManyRequests)
	b.do(t, http.MethodGet, "/api/v1/bots", second, "").requireStatus(t, http.StatusOK)

	unlimited := 0.0
	require.NoError(t, b.st.SetTenantLimits(t.Context(), store.TenantLimits{Owner: "acme", RatePerSecond: &unlimited}, t0))
	b.clock.Advance(tenantLimitsTTL)
	for range 5 {
		r := b.do(t, http.MethodGet, "/api/v1/bots", b.acme, "")
		r.requireStatus(t, http.StatusOK)
		require.Empty(t, r.header.Get("RateLimit-Limit"))
	}
}

// A tenant's create beyond its cap on unfinished bots is 429, names the
// cap and writes nothing; another tenant still creates, and a cancelled
// bot frees room.
func TestCreateBeyondTenantCap(t *testing.T) {
	t.Parallel()
	b := setupLimits(t, store.Limits{MaxBots: 2})
	first := b.create(t, b.acme, meetingBody(meetURL))
	b.create(t, b.acme, meetingBody(zoomURL))
	r := b.do(t, http.MethodPost, "/api/v1/bots", b.acme, meetingBody(teamsURL), "Idempotency-Key", "third")
	r.requireStatus(t, http.StatusTooManyRequests)
	p := r.problem(t)
	require.Contains(t, p.Detail, "cap (max_bots) is 2")
	require.Len(t, b.list(t, b.acme, "").Bots, 2, "nothing was written")
	_, err := b.st.IdempotentResponse(t.Context(), "acme", store.Idempotency{Key: "third"})
	require.NoError(t, err)
	b.create(t, b.globex, meetingBody(teamsURL))

	b.do(t, http.MethodDelete, "/api/v1/bots/"+first.ID.String(), b.acme, "").requireStatus(t, http.StatusAccepted)
	b.create(t, b.acme, meetingBody(teamsURL))
	require.True(t, strings.Contains(p.Detail, `"acme"`))
	b.requireValidated(t)
}
