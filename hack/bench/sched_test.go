package main

import (
	"testing"
	"time"
)

// The default plan: three waves ten (scaled) minutes apart, every bot
// created at least RESERVE_AHEAD before it is due, the burst between the
// first two waves, the kill shortly before the last one.
func TestMakePlanDefaults(t *testing.T) {
	o := schedOptions{scale: 0.1, waves: 3, waveBots: 170, adHoc: 510, call: defaultCall,
		killBefore: defaultKillLead, killDown: 10 * time.Second}
	p, err := makePlan(o)
	if err != nil {
		t.Fatal(err)
	}
	if p.Scheduled != 510 || len(p.Bots) != 1020 {
		t.Fatalf("scheduled %d, bots %d; want 510, 1020", p.Scheduled, len(p.Bots))
	}
	reserveAhead := scaled(10*time.Minute, o.scale)
	for i, b := range p.Bots {
		if i > 0 && b.CreateAt < p.Bots[i-1].CreateAt {
			t.Fatalf("bot %d created before bot %d", i, i-1)
		}
		if b.Kind == kindScheduled && b.JoinAt-b.CreateAt < reserveAhead {
			t.Fatalf("bot %d (wave %d) created %s before it is due, under RESERVE_AHEAD %s", b.Seq, b.Wave, b.JoinAt-b.CreateAt, reserveAhead)
		}
	}
	if got := []time.Duration{p.Waves[0].joinAt, p.Waves[1].joinAt, p.Waves[2].joinAt}; got[0] != 90*time.Second ||
		got[1] != 150*time.Second || got[2] != 210*time.Second {
		t.Fatalf("waves due at %v", got)
	}
	if p.AdHocAt <= p.Waves[0].joinAt || p.AdHocAt >= p.Waves[1].joinAt {
		t.Fatalf("ad hoc burst at %s, not between the first two waves", p.AdHocAt)
	}
	if p.KillAt != 200*time.Second || p.KillWave != 3 || p.KillDown != time.Second {
		t.Fatalf("kill at %s before wave %d, down %s", p.KillAt, p.KillWave, p.KillDown)
	}
}

// On time is within the window either side of join_at; a bot that never
// entered counts against the ratio but not in the lateness figures.
func TestSummarize(t *testing.T) {
	join := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	entered := func(lateness time.Duration) botOutcome {
		at := join.Add(lateness)
		return botOutcome{Kind: kindScheduled, JoinAt: join, Entered: true, EnteredAt: at,
			first: map[string]time.Time{"DEPLOYING": join.Add(-9 * time.Second), "READY": join.Add(-time.Second), "JOINING_CALL": at}}
	}
	never := botOutcome{Kind: kindScheduled, JoinAt: join, Status: "FATAL", Reason: "queue_timeout", first: map[string]time.Time{}}
	outs := []botOutcome{entered(50 * time.Millisecond), entered(-100 * time.Millisecond), entered(time.Second),
		entered(-3 * time.Second), never}
	s := summarize(outs, 0.2)
	want := onTime{Bots: 5, Entered: 4, NeverEntered: 1, OnTime: 2, OnTimeRatio: 0.4, OnTimeRatioUnscaled2s: 0.6,
		Late: 1, Early: 1, LatenessP50: -0.1, LatenessP99: 1, LatenessMax: 1, EarlyMax: 3,
		LeadGivenP50: 9, LeadGivenMin: 9, ReadyMarginP50: 1, ReadyMarginMin: 1, ReadyLate: 1}
	if s != want {
		t.Fatalf("summarize:\n got %+v\nwant %+v", s, want)
	}
	if got := neverEntered(outs); got["FATAL/queue_timeout"] != 1 || len(got) != 1 {
		t.Fatalf("never entered %v", got)
	}
}

func TestQuantile(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3}
	for q, want := range map[float64]float64{0: 1, 0.5: 3, 0.99: 5, 1: 5} {
		if got := quantile(xs, q); got != want {
			t.Errorf("quantile(%v) = %v, want %v", q, got, want)
		}
	}
	if quantile(nil, 0.5) != 0 {
		t.Error("quantile of nothing is not 0")
	}
}
