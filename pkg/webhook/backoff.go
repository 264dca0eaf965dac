package webhook

import (
	"math"
	"math/rand/v2"
	"time"
)

// Retry policy defaults. A day of retries outlasts most receiver outages (a
// bad deploy, a night before someone is paged) without keeping events
// forever.
const (
	DefaultBackoffBase = 10 * time.Second
	DefaultBackoffMax  = time.Hour
	DefaultWindow      = 24 * time.Hour
)

// jitter is the spread around each delay, so deliveries that failed together
// (a receiver outage) do not all come back in the same second.
const jitter = 0.2

// Backoff returns the wait before attempt n+1 after n failed attempts
// (n < 1 counts as 1): base·2^(n−1), capped at maxDelay, then multiplied by a
// factor in [0.8, 1.2) drawn from rnd, so the result lies within ±20% of the
// capped value (a capped delay can therefore exceed maxDelay by up to 20%).
// base and maxDelay default to DefaultBackoffBase and DefaultBackoffMax when not
// positive; rnd returns values in [0, 1) and defaults to math/rand/v2.
func Backoff(n int, base, maxDelay time.Duration, rnd func() float64) time.Duration {
	if base <= 0 {
		base = DefaultBackoffBase
	}
	if maxDelay <= 0 {
		maxDelay = DefaultBackoffMax
	}
	if rnd == nil {
		rnd = rand.Float64
	}
	d := base
	// Doubling stops at the cap, so a large n neither loops long nor
	// overflows.
	for i := 1; i < n && d < maxDelay; i++ {
		if d > maxDelay/2 {
			d = maxDelay
			break
		}
		d *= 2
	}
	d = min(d, maxDelay)
	r := rnd()
	if r < 0 || r >= 1 {
		r = 0.5 // a broken rnd gets no jitter rather than an unbounded one
	}
	f := float64(d) * (1 - jitter + 2*jitter*r)
	if f >= math.MaxInt64 { // converting would overflow to a negative delay
		return math.MaxInt64
	}
	return time.Duration(f)
}

// GiveUp reports whether a delivery that failed at now, first attempted at
// firstAttempt, should stop instead of being retried after next (the delay
// Backoff returned): true when now+next is after firstAttempt+window.
// window defaults to DefaultWindow when not positive.
//
// It takes the delay rather than computing one so that the worker decides
// and schedules with the same jittered value:
//
//	next := webhook.Backoff(attempt, 0, 0, nil)
//	if webhook.GiveUp(first, time.Now(), next, 0) {
//		// record the final failure
//	} else {
//		// retry in next
//	}
func GiveUp(firstAttempt, now time.Time, next, window time.Duration) bool {
	if window <= 0 {
		window = DefaultWindow
	}
	return now.Add(next).After(firstAttempt.Add(window))
}
