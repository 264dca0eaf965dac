package main

import (
	"context"
	"strings"
	"sync"
	"time"
)

// faultKind is one kind of fault window: knobs set on the simulators for a
// while, then restored. All of them are transient: no bot may end FATAL
// because of one.
type faultKind struct {
	name  string
	lasts time.Duration
	knobs map[string]map[string]any // simulator -> knobs
}

// faultKinds are the windows a default run opens, in order. The short
// mode opens the first.
var faultKinds = []faultKind{
	{name: "5xx (incl. after create)", lasts: 30 * time.Second, knobs: map[string]map[string]any{
		"coolify": {"error_rate": 0.15, "error_after_rate": 0.1},
		"ecs":     {"error_rate": 0.15, "error_after_rate": 0.15}}},
	{name: "429 storms", lasts: 25 * time.Second, knobs: map[string]map[string]any{
		"coolify": {"storm_429_seconds": 20}, "ecs": {"throttle_storm_seconds": 15}}},
	{name: "status lag", lasts: 30 * time.Second, knobs: map[string]map[string]any{
		"coolify": {"status_lag_ms": 5000}, "ecs": {"consistency_lag_ms": 5000}}},
	{name: "failing lists", lasts: 20 * time.Second, knobs: map[string]map[string]any{
		"coolify": {"fail_lists": 15}, "ecs": {"fail_lists": 15}}},
	{name: "ECS capacity", lasts: 25 * time.Second, knobs: map[string]map[string]any{
		"ecs": {"capacity_failures": 20, "capacity_failure_reason": "RESOURCE:MEMORY", "capacity_unavailable_seconds": 15}}},
	{name: "slow pulls", lasts: 20 * time.Second, knobs: map[string]map[string]any{
		"ecs": {"pending_delay_ms": slowPull.Milliseconds()}}},
}

// windowRecord is a window as it happened.
type windowRecord struct {
	Name  string    `json:"name"`
	From  time.Time `json:"from"`
	Until time.Time `json:"until"`
}

// injectionRecord is a destructive fault aimed at one bot's workload.
type injectionRecord struct {
	Kind  string    `json:"kind"`
	BotID string    `json:"bot_id"`
	At    time.Time `json:"at"`
}

// faultLog is every window and injection of the run.
type faultLog struct {
	mu         sync.Mutex
	windows    []windowRecord
	open       []string
	injections []injectionRecord
}

func (f *faultLog) opened(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.open = append(f.open, name)
}

func (f *faultLog) closed(w windowRecord) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.windows = append(f.windows, w)
	for i, n := range f.open {
		if n == w.Name {
			f.open = append(f.open[:i], f.open[i+1:]...)
			break
		}
	}
}

func (f *faultLog) openNow() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.open, ", ")
}

func (f *faultLog) injected(r injectionRecord) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.injections = append(f.injections, r)
}

// during names the windows that overlapped [from, until].
func (f *faultLog) during(from, until time.Time) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, w := range f.windows {
		if !w.From.After(until) && !w.Until.Before(from) {
			out = append(out, w.Name)
		}
	}
	return out
}

// openFaultWindows opens the windows evenly over the first 80 % of the
// phase, each for its time (shorter when the phase is short).
func (c *chaos) openFaultWindows(phase context.Context) {
	kinds := faultKinds
	if n := c.opts.faultWindows; n > 0 && n < len(kinds) {
		kinds = kinds[:n]
	}
	d := c.opts.duration
	spacing := time.Duration(0.7 * float64(d) / float64(len(kinds)))
	start := time.Now()
	for i, k := range kinds {
		at := start.Add(time.Duration(0.1*float64(d)) + time.Duration(i)*spacing)
		if !sleepCtx(phase, time.Until(at)) {
			return
		}
		c.window(phase, k, min(k.lasts, time.Duration(0.6*float64(spacing))))
	}
}

// window sets a kind's knobs for lasts, then restores the base knobs it
// touched (even when the phase ends first).
func (c *chaos) window(phase context.Context, k faultKind, lasts time.Duration) {
	rec := windowRecord{Name: k.name, From: time.Now()}
	c.faults.opened(k.name)
	c.logf("fault window open: %s for %s", k.name, lasts.Round(time.Second))
	c.setKnobs(k.knobs)
	sleepCtx(phase, lasts)
	restore := map[string]map[string]any{}
	for sim, knobs := range k.knobs {
		restore[sim] = map[string]any{}
		for name := range knobs {
			if v, ok := baseKnobs[sim][name]; ok {
				restore[sim][name] = v
			}
		}
	}
	c.setKnobs(restore)
	rec.Until = time.Now()
	c.faults.closed(rec)
	c.logf("fault window closed: %s", k.name)
}

// setKnobs posts knobs to each simulator; a failure is logged (the
// simulators do not fail, so it means something is badly wrong).
func (c *chaos) setKnobs(knobs map[string]map[string]any) {
	for name, k := range knobs {
		sim := c.sys.coolify
		if name == "ecs" {
			sim = c.sys.ecs
		}
		if err := sim.setKnobs(context.Background(), k); err != nil {
			c.logf("setting %s knobs: %v", name, err)
		}
	}
}
