package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"
)

// leaderWatch scrapes every live replica's meeboter_leader gauge each
// round. Two leaders in two rounds in a row (scrapes of different replicas
// are not one instant) is a violation; so is a stretch without a leader
// longer than maxLeaderGap, outside a Postgres outage.
type leaderWatch struct {
	replicas []*replica
	client   *http.Client

	mu         sync.Mutex
	current    []string // leaders in the last round
	lastRound  time.Time
	prevMulti  bool
	dualRounds int
	maxLeaders int
	// rounds with a leader, kept as (time, leaders) for waitLeader.
	history    []leaderRound
	gapSince   time.Time // start of the stretch without a leader
	gaps       []leaderGap
	scrapeErrs int
}

type leaderRound struct {
	at      time.Time
	leaders []string
}

// leaderGap is a stretch without a leader.
type leaderGap struct {
	From  time.Time `json:"from"`
	Until time.Time `json:"until"`
}

// maxLeaderGap is the longest a replica set may be without a leader.
const maxLeaderGap = 10 * time.Second

func newLeaderWatch(replicas []*replica) *leaderWatch {
	return &leaderWatch{replicas: replicas, client: &http.Client{Timeout: time.Second}}
}

func (l *leaderWatch) run(ctx context.Context, every time.Duration) {
	for sleepCtx(ctx, every) {
		l.round(ctx)
	}
}

// scrape asks every live replica whether it leads.
func (l *leaderWatch) scrape(ctx context.Context) (leaders []string, errs int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, r := range l.replicas {
		if _, p := r.current(); p == nil || !p.alive() {
			continue
		}
		wg.Go(func() {
			lead, err := r.leader(ctx, l.client)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs++
			}
			if lead {
				leaders = append(leaders, r.name)
			}
		})
	}
	wg.Wait()
	slices.Sort(leaders)
	return leaders, errs
}

// round scrapes once and updates the record.
func (l *leaderWatch) round(ctx context.Context) {
	leaders, errs := l.scrape(ctx)
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.scrapeErrs += errs
	l.current, l.lastRound = leaders, now
	l.maxLeaders = max(l.maxLeaders, len(leaders))
	multi := len(leaders) > 1
	if multi && l.prevMulti {
		l.dualRounds++
	}
	l.prevMulti = multi
	switch {
	case len(leaders) == 0 && l.gapSince.IsZero():
		l.gapSince = now
		if n := len(l.history); n > 0 {
			l.gapSince = l.history[n-1].at
		}
	case len(leaders) > 0:
		if !l.gapSince.IsZero() {
			l.gaps = append(l.gaps, leaderGap{From: l.gapSince, Until: now})
			l.gapSince = time.Time{}
		}
		l.history = append(l.history, leaderRound{at: now, leaders: leaders})
	}
}

// isLeader reports whether name led in the last round.
func (l *leaderWatch) isLeader(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Contains(l.current, name)
}

// leaderSince is the first round after t with a leader (zero if none yet).
func (l *leaderWatch) leaderSince(t time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	i, _ := slices.BinarySearchFunc(l.history, t, func(r leaderRound, t time.Time) int { return r.at.Compare(t) })
	for ; i < len(l.history); i++ {
		if l.history[i].at.After(t) {
			return l.history[i].at
		}
	}
	return time.Time{}
}

// waitLeader waits until a round after t found a leader.
func (l *leaderWatch) waitLeader(ctx context.Context, t time.Time, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		if !l.leaderSince(t).IsZero() {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no leader within %s", limit)
		}
		if !sleepCtx(ctx, 100*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// finalRound scrapes once more and returns how many replicas lead.
func (l *leaderWatch) finalRound(ctx context.Context) int {
	leaders, _ := l.scrape(ctx)
	return len(leaders)
}

// summary is what the report needs.
func (l *leaderWatch) summary() (gaps []leaderGap, dualRounds, maxLeaders, scrapeErrs int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.gaps), l.dualRounds, l.maxLeaders, l.scrapeErrs
}
