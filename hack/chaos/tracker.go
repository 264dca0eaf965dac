package main

import (
	"context"
	"maps"
	"sync"
	"time"
)

// botState is what the runner knows of one bot, from the API.
type botState struct {
	view       botView
	plan       *plan // nil for a bot the runner did not plan
	acceptedAt time.Time
	seen       map[string]time.Time // when each status was first seen
	// stopAt is when the runner asked the bot to leave or cancelled it, in
	// status stopStatus.
	stopAt     time.Time
	stopStatus string
	// injected names the destructive fault aimed at its workload, if any.
	injected   string
	injectedAt time.Time
}

func (b *botState) terminal() bool { return terminal(b.view.Status) }

// endedAt is when the bot became terminal (zero while it is not).
func (b *botState) endedAt() time.Time {
	if b.view.EndedAt == nil {
		return time.Time{}
	}
	return *b.view.EndedAt
}

// tracker follows every bot's status through the API: one list of the
// non-terminal bots per poll, plus a GET for each that left the list.
type tracker struct {
	api   *apiClient
	plans []plan

	mu       sync.Mutex
	bots     map[string]*botState
	accepted map[int]string // sequence number -> bot id, from the 201
	rejected []string       // creates answered 4xx, or never answered
	counts   map[string]int // bots by status at the last poll
	polls    int
	errors   int
}

func newTracker(api *apiClient, plans []plan) *tracker {
	return &tracker{api: api, plans: plans, bots: map[string]*botState{}, accepted: map[int]string{}, counts: map[string]int{}}
}

// accept records a create that got its 201.
func (t *tracker) accept(p *plan, v botView, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.accepted[p.seq] = v.ID
	b := t.stateLocked(v.ID)
	b.plan, b.acceptedAt = p, at
	t.updateLocked(b, v, at)
}

// reject records a create that never got a 201.
func (t *tracker) reject(p *plan, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rejected = append(t.rejected, "create #"+itoa(p.seq)+": "+err.Error())
}

func (t *tracker) stateLocked(id string) *botState {
	b := t.bots[id]
	if b == nil {
		b = &botState{seen: map[string]time.Time{}}
		t.bots[id] = b
	}
	return b
}

// updateLocked applies a fresh view; a terminal bot stays terminal (a
// stale page cannot revive it).
func (t *tracker) updateLocked(b *botState, v botView, at time.Time) {
	if b.terminal() && !terminal(v.Status) {
		return
	}
	if b.plan == nil {
		if s := v.seq(); s > 0 && s <= len(t.plans) {
			b.plan = &t.plans[s-1]
		}
	}
	b.view = v
	if _, ok := b.seen[v.Status]; !ok {
		b.seen[v.Status] = at
	}
}

// poll refreshes every bot the runner has not seen end.
func (t *tracker) poll(ctx context.Context) error {
	now := time.Now()
	live, err := t.api.list(ctx, nonTerminal)
	if err != nil {
		t.mu.Lock()
		t.errors++
		t.mu.Unlock()
		return err
	}
	inList := map[string]bool{}
	counts := map[string]int{}
	t.mu.Lock()
	for _, v := range live {
		inList[v.ID] = true
		counts[v.Status]++
		t.updateLocked(t.stateLocked(v.ID), v, now)
	}
	var gone []string
	for id, b := range t.bots {
		if !b.terminal() && !inList[id] {
			gone = append(gone, id)
		}
	}
	t.mu.Unlock()
	for _, id := range gone {
		v, err := t.api.get(ctx, id)
		if err != nil {
			continue // next poll
		}
		t.mu.Lock()
		t.updateLocked(t.stateLocked(id), v, time.Now())
		t.mu.Unlock()
	}
	t.mu.Lock()
	for _, b := range t.bots {
		if b.terminal() {
			counts[b.view.Status]++
		}
	}
	t.counts, t.polls = counts, t.polls+1
	t.mu.Unlock()
	return nil
}

// statusCounts is the bots by status at the last poll.
func (t *tracker) statusCounts() map[string]int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.counts)
}

// each runs fn on every bot under the tracker's lock; fn must not block.
func (t *tracker) each(fn func(id string, b *botState)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, b := range t.bots {
		fn(id, b)
	}
}

// with runs fn on one bot (nil when unknown) under the lock.
func (t *tracker) with(id string, fn func(b *botState)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fn(t.bots[id])
}

// pollCount is how many polls succeeded.
func (t *tracker) pollCount() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.polls
}

// openBots counts the bots not yet seen terminal.
func (t *tracker) openBots() int {
	n := 0
	t.each(func(_ string, b *botState) {
		if !b.terminal() {
			n++
		}
	})
	return n
}

// lastEnd is the latest end of any bot.
func (t *tracker) lastEnd() time.Time {
	var last time.Time
	t.each(func(_ string, b *botState) { last = maxTime(last, b.endedAt()) })
	return last
}
