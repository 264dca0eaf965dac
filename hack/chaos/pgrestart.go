package main

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// pgRestart is the one Postgres restart of a run.
type pgRestart struct {
	mu        sync.Mutex
	planned   time.Time
	outage    time.Duration
	down, up  time.Time
	recovered time.Duration // from up until the replicas work again
	ok        bool
}

// pgQuietBefore and pgQuietAfter keep kills away from the restart, so its
// recovery is measured on its own.
const (
	pgQuietBefore = 15 * time.Second
	pgQuietAfter  = 20 * time.Second
	// pgRecoveryLimit bounds the controllers' recovery on their own.
	pgRecoveryLimit = 90 * time.Second
)

// quiet reports whether t is too close to the restart for a kill.
func (p *pgRestart) quiet(t time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.planned.IsZero() {
		return false
	}
	end := p.planned.Add(p.outage + pgQuietAfter)
	if !p.up.IsZero() {
		end = p.up.Add(pgQuietAfter)
	}
	return t.After(p.planned.Add(-pgQuietBefore)) && t.Before(end)
}

// outageWindow is when Postgres was down (zero when it was not).
func (p *pgRestart) outageWindow() (down, up time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.down, p.up
}

// restartPostgres restarts Postgres halfway through the phase and measures
// how long after it is back the replicas work again on their own: every
// replica ready, a leader, and a reconcile completed that started after.
func (c *chaos) restartPostgres(ctx, phase context.Context) {
	p := c.pg
	p.mu.Lock()
	p.planned, p.outage = time.Now().Add(c.opts.duration/2), c.opts.pgOutage
	p.mu.Unlock()
	if !sleepCtx(phase, time.Until(p.planned)) {
		return
	}
	c.logf("stopping Postgres for %s", c.opts.pgOutage)
	down, up, err := c.sys.restartPostgres(ctx, c.opts.pgOutage)
	p.mu.Lock()
	p.down, p.up = down, up
	p.mu.Unlock()
	if err != nil {
		c.viol.add(kindPostgresRecovery, "Postgres did not come back: %v", err)
		return
	}
	c.logf("Postgres is back after %s", up.Sub(down).Round(time.Millisecond))
	recovered, err := c.waitRecovered(ctx, up)
	p.mu.Lock()
	p.recovered, p.ok = recovered, err == nil
	p.mu.Unlock()
	if err != nil {
		c.viol.add(kindPostgresRecovery, "replicas not working %s after Postgres came back: %v", pgRecoveryLimit, err)
		return
	}
	c.logf("replicas recovered %.1f s after Postgres came back", recovered.Seconds())
}

// waitRecovered polls until the replicas work again after up.
func (c *chaos) waitRecovered(ctx context.Context, up time.Time) (time.Duration, error) {
	client := &http.Client{Timeout: time.Second}
	deadline := up.Add(pgRecoveryLimit)
	var ready, led, reconciled time.Time
	for time.Now().Before(deadline) {
		now := time.Now()
		if ready.IsZero() && c.allReady(ctx, client) {
			ready = now
		}
		if led.IsZero() {
			led = c.leaders.leaderSince(up)
		}
		if reconciled.IsZero() {
			reconciled = firstReconcileSince(ctx, c.sys, up)
		}
		if !ready.IsZero() && !led.IsZero() && !reconciled.IsZero() {
			return maxTime(ready, maxTime(led, reconciled)).Sub(up), nil
		}
		if !sleepCtx(ctx, 250*time.Millisecond) {
			return 0, ctx.Err()
		}
	}
	return 0, errNotRecovered{ready: !ready.IsZero(), led: !led.IsZero(), reconciled: !reconciled.IsZero()}
}

type errNotRecovered struct{ ready, led, reconciled bool }

func (e errNotRecovered) Error() string {
	return "all ready " + yes(e.ready) + ", a leader " + yes(e.led) + ", a reconcile completed " + yes(e.reconciled)
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// allReady reports whether every live replica answers /readyz 200.
func (c *chaos) allReady(ctx context.Context, client *http.Client) bool {
	for _, r := range c.sys.replicas {
		if _, p := r.current(); p == nil || !p.alive() {
			continue
		}
		if !r.probe(ctx, client, "http://"+r.httpAddr+"/readyz") {
			return false
		}
	}
	return true
}

// firstReconcileSince is when the first reconcile_bot job that started
// after t completed (zero when none has).
func firstReconcileSince(ctx context.Context, s *system, t time.Time) time.Time {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var fin *time.Time
	err := s.db.QueryRow(ctx, `SELECT min(finalized_at) FROM river_job
		WHERE kind = 'reconcile_bot' AND state = 'completed' AND attempted_at > $1`, t).Scan(&fin)
	if err != nil || fin == nil {
		return time.Time{}
	}
	return *fin
}
