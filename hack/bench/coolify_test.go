package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Calls per bot are the simulator's counters at the end less those when
// the pool was warm: operations that did not grow are left out, new ones
// come in whole.
func TestDiffCounts(t *testing.T) {
	t.Parallel()
	before := map[string]int{"GET /applications": 56, "POST /applications/dockerimage": 20, "POST /applications/{uuid}/start": 20}
	after := map[string]int{"GET /applications": 461, "POST /applications/dockerimage": 20, "POST /applications/{uuid}/start": 220,
		"GET /deployments/applications/{uuid}": 3}
	got := diffCounts(before, after)
	require.Equal(t, map[string]int{"GET /applications": 405, "POST /applications/{uuid}/start": 200,
		"GET /deployments/applications/{uuid}": 3}, got)
	require.Equal(t, 608, sumCounts(got))
	require.Empty(t, diffCounts(before, nil), "nothing after")
}

// Admission and IN_CALL are the first events of their types; a bot that
// never got there has none.
func TestFirstOf(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	evs := []event{{Type: "QUEUED", OccurredAt: t0}, {Type: "DEPLOYING", OccurredAt: t0.Add(time.Second)},
		{Type: "JOINING_CALL", OccurredAt: t0.Add(2 * time.Second)}, {Type: "IN_CALL", OccurredAt: t0.Add(3 * time.Second)},
		{Type: "DEPLOYING", OccurredAt: t0.Add(9 * time.Second)}}
	require.Equal(t, t0.Add(time.Second), firstOf(evs, "DEPLOYING"))
	require.True(t, firstOf(evs, "DONE").IsZero(), "no DONE")
}

func TestPerBotListsMostFirst(t *testing.T) {
	t.Parallel()
	require.Equal(t, "GET list 2.02, POST start 1.00, POST stop 1.00",
		perBot(map[string]int{"POST stop": 200, "GET list": 405, "POST start": 200}, 200))
	require.Equal(t, "no bots", perBot(nil, 0))
}
