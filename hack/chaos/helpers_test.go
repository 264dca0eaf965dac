package main

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestJudgeStop(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	failed := at.Add(-3 * time.Second)
	live := botFacts{known: true, finalAttempt: 2}
	call := stopCall{At: at, WasRunning: true, Bot: "b", Attempt: 2}
	withList := call
	withList.LastListFailure = &failed
	window := 10 * time.Second

	require.Equal(t, kindUnexpectedStop, judgeStop(call, live, window), "a live bot's running workload, unasked")
	require.Equal(t, kindDeletedListFailed, judgeStop(withList, live, window), "right after a failed list")
	old := withList
	old.At = at.Add(time.Minute)
	require.Equal(t, kindUnexpectedStop, judgeStop(old, live, window), "long after the failed list")

	for name, tc := range map[string]struct {
		call  stopCall
		facts botFacts
	}{
		"not running":       {stopCall{At: at, Bot: "b", Attempt: 2}, live},
		"idle slot":         {stopCall{At: at, WasRunning: true}, live},
		"unknown bot":       {call, botFacts{}},
		"ended before":      {call, botFacts{known: true, finalAttempt: 2, ended: at.Add(-time.Millisecond)}},
		"asked to stop":     {call, botFacts{known: true, finalAttempt: 2, stopAt: at.Add(-time.Second)}},
		"injected":          {call, botFacts{known: true, finalAttempt: 2, injectedAt: at}},
		"stale attempt":     {call, botFacts{known: true, finalAttempt: 3}},
		"ended at the stop": {call, botFacts{known: true, finalAttempt: 2, ended: at}},
	} {
		require.Empty(t, judgeStop(tc.call, tc.facts, window), name)
	}
	later := botFacts{known: true, finalAttempt: 2, ended: at.Add(time.Second), stopAt: at.Add(time.Second)}
	require.Equal(t, kindUnexpectedStop, judgeStop(call, later, window), "ended and asked only after the stop")
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	require.Zero(t, percentile(nil, 99))
	s := []float64{5, 1, 4, 2, 3}
	require.Equal(t, 3.0, percentile(s, 50))
	require.Equal(t, 5.0, percentile(s, 99))
	require.Equal(t, 1.0, percentile(s, 0))
	require.Equal(t, []float64{5, 1, 4, 2, 3}, s, "the samples are not reordered")
}

func TestWitnessOverlap(t *testing.T) {
	t.Parallel()
	w := newWitness()
	t0 := time.Now()
	call := func(bot, token string, at time.Duration, code int) {
		r, _ := http.NewRequest(http.MethodPost, "http://x/bot/v1/heartbeat", http.NoBody)
		r.Header.Set("X-Bot-Id", bot)
		r.Header.Set("Authorization", "Bearer "+token)
		w.observe(r, code, t0.Add(at))
	}
	// a: attempt 1 ends, attempt 2 starts a second later: fine.
	call("a", "t1", 0, 200)
	call("a", "t1", 10*time.Second, 200)
	call("a", "t2", 11*time.Second, 200)
	call("a", "t2", 30*time.Second, 200)
	// b: two tokens accepted over the same ten seconds.
	call("b", "t1", 0, 200)
	call("b", "t2", time.Second, 200)
	call("b", "t1", 12*time.Second, 200)
	call("b", "t2", 12*time.Second, 200)
	// c: the stale token is refused: not a live workload the controller accepts.
	call("c", "t1", 0, 200)
	call("c", "t2", time.Second, 409)
	call("c", "t1", 20*time.Second, 200)
	call("c", "t2", 20*time.Second, 409)
	require.Equal(t, []string{"b"}, w.duplicates())
	require.Equal(t, t0.Add(20*time.Second), w.lastCalls()["c"])
	require.Equal(t, 10, w.answers()["2xx"])
}

func TestBotOfWorkload(t *testing.T) {
	t.Parallel()
	bot, attempt, ok := botOfWorkload("meeboter-0196c0de-7e57-7abc-8def-0123456789ab-3")
	require.True(t, ok)
	require.Equal(t, "0196c0de-7e57-7abc-8def-0123456789ab", bot)
	require.Equal(t, 3, attempt)
	for _, name := range []string{"pool-zoom-001", "meeboter-", "meeboter-x-y", ""} {
		_, _, ok := botOfWorkload(name)
		require.False(t, ok, name)
	}
}

func TestLeaderGauge(t *testing.T) {
	t.Parallel()
	text := "# HELP meeboter_leader 1 when …\n# TYPE meeboter_leader gauge\nmeeboter_leader 1\nmeeboter_queue_length 3\n"
	lead, err := leaderGauge(bufio.NewScanner(strings.NewReader(text)))
	require.NoError(t, err)
	require.True(t, lead)
	lead, err = leaderGauge(bufio.NewScanner(strings.NewReader("meeboter_leader 0\n")))
	require.NoError(t, err)
	require.False(t, lead)
	_, err = leaderGauge(bufio.NewScanner(strings.NewReader("go_goroutines 12\n")))
	require.Error(t, err)
}

func TestPlayAt(t *testing.T) {
	t.Parallel()
	t0 := time.Now()
	end := t0.Add(10 * time.Second)
	plays := []play{
		{Container: "app-1", BotID: "old", Since: t0, Until: &end},
		{Container: "app-1", BotID: "now", Since: end.Add(time.Second)},
		{Container: "app-2", BotID: "other", Since: t0},
	}
	p, ok := playAt(plays, "app-1", t0.Add(5*time.Second))
	require.True(t, ok)
	require.Equal(t, "old", p.BotID)
	_, ok = playAt(plays, "app-1", end.Add(500*time.Millisecond))
	require.False(t, ok, "idle between two meetings")
	p, _ = playAt(plays, "app-1", end.Add(time.Minute))
	require.Equal(t, "now", p.BotID)
}

func TestPlansAndArrivals(t *testing.T) {
	t.Parallel()
	o := defaultOptions()
	rng := newLockedRand(7)
	plans := planBots(rng.rng, 1000, o)
	var scheduled, actions int
	for i, p := range plans {
		require.Equal(t, i+1, p.seq)
		require.GreaterOrEqual(t, p.call, o.callMin)
		require.LessOrEqual(t, p.call, o.callMax)
		scheduled += b2i(p.joinIn > 0)
		actions += b2i(p.action != "")
	}
	require.InDelta(t, 150, scheduled, 50)
	require.InDelta(t, 250, actions, 60)
	body := plans[0].body("run", time.Now(), []string{"http://h"})
	meta := body["metadata"].(map[string]any)
	require.Equal(t, map[string]any{"run": "run", "seq": 1}, meta["chaos"])

	at := arrivals(rng, 1000, time.Minute)
	require.Len(t, at, 1000)
	require.IsNonDecreasing(t, at)
	require.LessOrEqual(t, at[len(at)-1], time.Minute)
}

func TestParseOptions(t *testing.T) {
	t.Parallel()
	o, err := parseOptions([]string{"--short", "--bots", "50"})
	require.NoError(t, err)
	require.True(t, o.short)
	require.Equal(t, 50, o.bots)
	require.Equal(t, 2, o.maxKills)
	require.NotZero(t, o.seed)
	_, err = parseOptions([]string{"--replicas", "1"})
	require.Error(t, err)
	_, err = parseOptions([]string{"extra"})
	require.Error(t, err)
}
