package config

import (
	"math"
	"strconv"
)

// Tenants are every tenant's limits unless the tenant has its own (set with
// `meeboter tenants limits`). 0 limits nothing.
type Tenants struct {
	// RatePerSecond and RateBurst shape each API key's token bucket.
	RatePerSecond float64
	RateBurst     int
	// MaxBots caps a tenant's unfinished bots (scheduled, queued and live).
	MaxBots int
}

// The defaults leave room for a busy integration (and this repository's
// end-to-end tests and benchmarks, which create hundreds of bots with one
// key) while keeping one tenant from taking a whole deployment.
func (r *reader) tenants() Tenants {
	return Tenants{
		RatePerSecond: r.rate("TENANT_RATE_LIMIT", 100),
		RateBurst:     r.int("TENANT_RATE_BURST", 300, 0),
		MaxBots:       r.int("TENANT_MAX_BOTS", 1000, 0),
	}
}

// rate is a non-negative, finite number (of requests per second).
func (r *reader) rate(name string, def float64) float64 {
	v := r.str(name, "")
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		r.fail(name, "want a number >= 0 (requests per second), got %q", v)
		return def
	}
	return f
}
