package webhook

import (
	"context"
	"sync"
	"time"
)

// Gate keeps one tenant's or one receiver's trouble its own: it caps the
// deliveries in flight per tenant and per receiver host, and parks the
// deliveries to a receiver that keeps failing (a circuit breaker) instead
// of letting them hold workers for their whole timeout. A delivery over a
// cap waits in its worker up to Patience for a slot (receivers that answer
// fast free one within milliseconds, so a burst flows at full speed); then,
// like a parked one, it waits outside (its job is snoozed) without taking a
// worker or an attempt. Its state is in memory: each replica gates its own
// workers.
type Gate struct {
	// PerTenant and PerHost cap the deliveries in flight (0: no cap).
	PerTenant, PerHost int
	// BreakAfter consecutive failures (no answer, or 408/429/5xx) open a
	// host's breaker for Cooldown, doubled at each failed probe up to
	// MaxCooldown; then one probe goes through, and its success closes it.
	// 0: no breaker.
	BreakAfter            int
	Cooldown, MaxCooldown time.Duration
	// Patience is how long a delivery over a cap waits in its worker for
	// a slot before it is snoozed (0: not at all).
	Patience time.Duration
	// Wait is how long a snoozed delivery over a cap waits before trying
	// again.
	Wait time.Duration

	mu       sync.Mutex
	freed    chan struct{} // closed, and replaced, whenever a slot is freed
	tenants  map[string]int
	hosts    map[string]int
	breakers map[string]*breaker
}

// breaker is one host's circuit.
type breaker struct {
	failures  int
	openUntil time.Time
	cooldown  time.Duration
	probing   bool
}

// Verdict is the gate's answer to a delivery: go (and call Done after), or
// wait this long.
type Verdict struct {
	Wait time.Duration
	// Parked says the wait is the host's breaker, not a cap.
	Parked bool
	probe  bool
	freed  <-chan struct{} // over a cap: closed when a slot may be free
}

// AdmitWithin is Admit, waiting up to Patience for a slot when only a cap
// holds the delivery back. now is read after each wait.
func (g *Gate) AdmitWithin(ctx context.Context, tenant, host string, now func() time.Time) Verdict {
	v := g.Admit(tenant, host, now())
	if v.Wait == 0 || v.Parked || g.Patience <= 0 {
		return v
	}
	timer := time.NewTimer(g.Patience)
	defer timer.Stop()
	for v.Wait > 0 && !v.Parked {
		select {
		case <-v.freed:
		case <-timer.C:
			return v
		case <-ctx.Done():
			return v
		}
		v = g.Admit(tenant, host, now())
	}
	return v
}

// Admit asks to deliver tenant's event to host at now. A nil Gate admits
// everything.
func (g *Gate) Admit(tenant, host string, now time.Time) Verdict {
	if g == nil {
		return Verdict{}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.init()
	probe := false
	if b := g.breakers[host]; b != nil && b.failures >= g.BreakAfter && g.BreakAfter > 0 {
		switch {
		case now.Before(b.openUntil):
			return Verdict{Wait: b.openUntil.Sub(now), Parked: true}
		case b.probing:
			return Verdict{Wait: g.wait(), Parked: true}
		}
		probe = true
	}
	if (g.PerTenant > 0 && g.tenants[tenant] >= g.PerTenant) || (g.PerHost > 0 && g.hosts[host] >= g.PerHost) {
		return Verdict{Wait: g.wait(), freed: g.freed}
	}
	g.tenants[tenant]++
	g.hosts[host]++
	if probe {
		g.breakers[host].probing = true
	}
	return Verdict{probe: probe}
}

// Done ends an admitted delivery: failed is a receiver that did not answer
// or answered 408, 429 or 5xx.
func (g *Gate) Done(tenant, host string, v Verdict, failed bool, now time.Time) {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.init()
	close(g.freed)
	g.freed = make(chan struct{})
	g.tenants[tenant]--
	if g.tenants[tenant] <= 0 {
		delete(g.tenants, tenant)
	}
	g.hosts[host]--
	if g.hosts[host] <= 0 {
		delete(g.hosts, host)
	}
	if g.BreakAfter <= 0 {
		return
	}
	if !failed {
		delete(g.breakers, host) // it answers: closed
		return
	}
	b := g.breakers[host]
	if b == nil {
		b = &breaker{}
		g.breakers[host] = b
	}
	b.failures++
	if v.probe {
		b.probing = false
		b.cooldown = min(2*b.cooldown, g.MaxCooldown)
	}
	if b.failures >= g.BreakAfter {
		if b.cooldown == 0 {
			b.cooldown = g.Cooldown
		}
		b.openUntil = now.Add(b.cooldown)
	}
}

func (g *Gate) init() {
	if g.tenants == nil {
		g.tenants, g.hosts, g.breakers = map[string]int{}, map[string]int{}, map[string]*breaker{}
		g.freed = make(chan struct{})
	}
}

func (g *Gate) wait() time.Duration {
	if g.Wait <= 0 {
		return time.Second
	}
	return g.Wait
}
