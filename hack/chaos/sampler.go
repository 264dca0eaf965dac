package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/meeboter/meeboter/pkg/platform"
)

// workloadRef is one live workload as a platform itself shows it: an
// in-process bot of a simulator's container, or a local bot process.
type workloadRef struct {
	Platform  string `json:"platform"`
	Container string `json:"container"` // ECS workload name, Coolify app uuid, local workload name
	Attempt   int    `json:"attempt"`
}

func (w workloadRef) String() string {
	return fmt.Sprintf("%s:%s#%d", w.Platform, w.Container, w.Attempt)
}

// sampler looks at what actually runs, every couple of seconds, from the
// platforms' own views: the simulators' in-process bots and the local bot
// processes. A bot with two live workloads, or a workload still running
// for a bot that ended more than leakAfter ago, is a violation once seen
// in two samples in a row (the views are not read at one instant).
type sampler struct {
	c *chaos

	mu           sync.Mutex
	prev         map[string][]workloadRef
	duplicates   map[string]string // bot -> workloads, confirmed
	leaks        map[string]string // bot/workload -> description, confirmed
	limitsBroken map[string]string // platform -> worst count seen
	samples      int
	errors       int
}

func newSampler(c *chaos) *sampler {
	return &sampler{c: c, prev: map[string][]workloadRef{}, duplicates: map[string]string{},
		leaks: map[string]string{}, limitsBroken: map[string]string{}}
}

func (s *sampler) run(ctx context.Context, every time.Duration) {
	for sleepCtx(ctx, every) {
		live, err := s.c.liveWorkloads(ctx)
		if err != nil {
			s.mu.Lock()
			s.errors++
			s.mu.Unlock()
			continue
		}
		s.observe(live, time.Now())
	}
}

// liveWorkloads reads every platform's view: bot id -> its live workloads.
func (c *chaos) liveWorkloads(ctx context.Context) (map[string][]workloadRef, error) {
	out := map[string][]workloadRef{}
	for _, sim := range []*simProc{c.sys.coolify, c.sys.ecs} {
		ps, err := sim.plays(ctx, false)
		if err != nil {
			return nil, err
		}
		for _, p := range ps.Live {
			out[p.BotID] = append(out[p.BotID], workloadRef{Platform: sim.name, Container: p.Container, Attempt: p.Attempt})
		}
	}
	listed, err := c.sys.localView.List(ctx)
	if err != nil {
		return nil, err
	}
	for _, l := range listed {
		if bot, attempt, ok := botOfWorkload(l.Name); ok && l.Phase == platform.PhaseRunning {
			out[bot] = append(out[bot], workloadRef{Platform: "local", Container: l.Name, Attempt: attempt})
		}
	}
	return out, nil
}

// observe checks one sample against the previous one.
func (s *sampler) observe(live map[string][]workloadRef, now time.Time) {
	ended := s.c.endTimes()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples++
	perPlatform := map[string]int{}
	for bot, refs := range live {
		for _, r := range refs {
			perPlatform[r.Platform]++
			end, done := ended[bot]
			if done && now.Sub(end) > s.c.opts.leakAfter() && slices.Contains(s.prev[bot], r) {
				s.leaks[bot+" "+r.String()] = fmt.Sprintf("bot %s ended %s ago, %s still runs",
					bot, now.Sub(end).Round(time.Second), r)
			}
		}
		if len(refs) > 1 && len(s.prev[bot]) > 1 && s.duplicates[bot] == "" {
			s.duplicates[bot] = describeRefs(refs)
		}
	}
	s.checkLimits(perPlatform)
	s.prev = live
}

// checkLimits compares what runs on each platform with its bot limit.
func (s *sampler) checkLimits(perPlatform map[string]int) {
	limits := map[string]int{"coolify": 3 * s.c.opts.coolifySlots, "local": s.c.opts.localLimit}
	for p, limit := range limits {
		if n := perPlatform[p]; n > limit {
			s.limitsBroken[p] = fmt.Sprintf("%d %s workloads running at once, limit %d", n, p, limit)
		}
	}
}

func describeRefs(refs []workloadRef) string {
	parts := make([]string, len(refs))
	for i, r := range refs {
		parts[i] = r.String()
	}
	slices.Sort(parts)
	return strings.Join(parts, " + ")
}

// endTimes is every terminal bot's end.
func (c *chaos) endTimes() map[string]time.Time {
	out := map[string]time.Time{}
	c.tracker.each(func(id string, b *botState) {
		if b.terminal() {
			out[id] = b.endedAt()
		}
	})
	return out
}

// results are the confirmed duplicates, leaks and broken limits.
func (s *sampler) results() (duplicates, leaks, limits map[string]string, samples, errors int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	clone := func(m map[string]string) map[string]string {
		out := make(map[string]string, len(m))
		for k, v := range m {
			out[k] = v
		}
		return out
	}
	return clone(s.duplicates), clone(s.leaks), clone(s.limitsBroken), s.samples, s.errors
}
