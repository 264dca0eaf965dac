package api

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/meeboter/meeboter/pkg/clock"
	"github.com/meeboter/meeboter/pkg/store"
)

// tenantLimitsTTL is how long a tenant's stored limits are reused: a change
// with the CLI applies within it.
const tenantLimitsTTL = 10 * time.Second

// sweepEvery is how often buckets that refilled completely are dropped (a
// full bucket is the same as a new one), so memory follows active keys.
const sweepEvery = time.Minute

// rateLimiter gives each API key a token bucket shaped by its tenant's
// limits. The buckets live in this replica's memory: N replicas behind a
// balancer allow a key up to N times its rate, which bounds abuse well
// enough without a database write per request.
type rateLimiter struct {
	limits  func(ctx context.Context, owner string) (store.TenantLimits, error)
	clock   clock.Clock
	def     store.Limits
	logger  *zap.Logger
	mu      sync.Mutex
	buckets map[string]*rate.Limiter // by the key's hash, never the key
	tenants map[string]cachedLimits
	swept   time.Time
}

type cachedLimits struct {
	limits store.Limits
	at     time.Time
}

// rateDecision is the outcome of one request against its key's bucket.
type rateDecision struct {
	limited    bool // the tenant has no rate limit
	allowed    bool
	burst      int
	perSecond  float64
	remaining  int
	reset      time.Duration // until the bucket is full again
	retryAfter time.Duration // until one token is available
}

func newRateLimiter(st Store, clk clock.Clock, def store.Limits, logger *zap.Logger) *rateLimiter {
	return &rateLimiter{limits: st.TenantLimits, clock: clk, def: def, logger: logger,
		buckets: map[string]*rate.Limiter{}, tenants: map[string]cachedLimits{}}
}

// tenantLimits returns owner's effective limits, from the cache while fresh.
// A failed read falls back to the defaults, uncached: the database being
// down fails the request soon enough on its own.
func (l *rateLimiter) tenantLimits(ctx context.Context, owner string, now time.Time) store.Limits {
	l.mu.Lock()
	c, ok := l.tenants[owner]
	l.mu.Unlock()
	if ok && now.Sub(c.at) < tenantLimitsTTL {
		return c.limits
	}
	t, err := l.limits(ctx, owner)
	if err != nil {
		l.logger.Warn("tenant limits unavailable; using the defaults", zap.String("owner", owner), zap.Error(err))
		return l.def
	}
	eff := t.Resolve(l.def)
	l.mu.Lock()
	l.tenants[owner] = cachedLimits{limits: eff, at: now}
	l.mu.Unlock()
	return eff
}

// take spends one token of keyHash's bucket.
func (l *rateLimiter) take(keyHash string, lim store.Limits, now time.Time) rateDecision {
	if lim.RatePerSecond <= 0 || lim.RateBurst <= 0 {
		return rateDecision{allowed: true}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b, ok := l.buckets[keyHash]
	if !ok {
		b = rate.NewLimiter(rate.Limit(lim.RatePerSecond), lim.RateBurst)
		l.buckets[keyHash] = b
	}
	if b.Limit() != rate.Limit(lim.RatePerSecond) || b.Burst() != lim.RateBurst {
		b.SetLimitAt(now, rate.Limit(lim.RatePerSecond))
		b.SetBurstAt(now, lim.RateBurst)
	}
	d := rateDecision{limited: true, allowed: b.AllowN(now, 1), burst: lim.RateBurst, perSecond: lim.RatePerSecond}
	tokens := b.TokensAt(now)
	d.remaining = max(int(math.Floor(tokens)), 0)
	d.reset = secondsFor(float64(lim.RateBurst)-tokens, lim.RatePerSecond)
	d.retryAfter = secondsFor(1-tokens, lim.RatePerSecond)
	return d
}

// secondsFor is how long tokens take to refill at perSecond.
func secondsFor(tokens, perSecond float64) time.Duration {
	if tokens <= 0 {
		return 0
	}
	return time.Duration(tokens / perSecond * float64(time.Second))
}

// sweep drops full buckets and stale tenant limits; l.mu is held.
func (l *rateLimiter) sweep(now time.Time) {
	if now.Sub(l.swept) < sweepEvery {
		return
	}
	l.swept = now
	for k, b := range l.buckets {
		if b.TokensAt(now) >= float64(b.Burst()) {
			delete(l.buckets, k)
		}
	}
	for owner, c := range l.tenants {
		if now.Sub(c.at) >= tenantLimitsTTL {
			delete(l.tenants, owner)
		}
	}
}

// wrap limits an authenticated user route: every answer carries the
// RateLimit-* headers (the bucket's size, the tokens left, the seconds
// until it is full), and a request without a token is 429 with Retry-After.
func (l *rateLimiter) wrap(h func(http.ResponseWriter, *http.Request, string)) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, r *http.Request, owner string) {
		now := l.clock.Now()
		d := l.take(string(store.HashSecret(apiKeyFrom(r))), l.tenantLimits(r.Context(), owner, now), now)
		if !d.limited {
			h(w, r, owner)
			return
		}
		w.Header().Set("RateLimit-Limit", strconv.Itoa(d.burst))
		w.Header().Set("RateLimit-Remaining", strconv.Itoa(d.remaining))
		w.Header().Set("RateLimit-Reset", strconv.Itoa(ceilSeconds(d.reset)))
		if d.allowed {
			h(w, r, owner)
			return
		}
		retry := max(ceilSeconds(d.retryAfter), 1)
		w.Header().Set("Retry-After", strconv.Itoa(retry))
		writeProblem(w, http.StatusTooManyRequests, fmt.Sprintf(
			"rate limit: this API key may make %g requests per second (bursts of %d); retry after %d s",
			d.perSecond, d.burst, retry))
	}
}

func ceilSeconds(d time.Duration) int { return int(math.Ceil(d.Seconds())) }
