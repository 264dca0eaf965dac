package coolifysim

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestStopRecords: every stop and delete that took effect is recorded with
// whether a container ran and when the list last failed; a call answered
// 500 before it did anything is not.
func TestStopRecords(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	clock := newFakeClock()
	s, c := newSim(t, Config{Workload: rec.workload, Clock: clock})
	first := c.createApp(s, map[string]any{"name": "pool-zoom-001"})
	second := c.createApp(s, map[string]any{"name": "pool-zoom-002"})

	r := c.call(http.MethodPost, "/applications/"+second+"/stop", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Len(t, s.Stops(), 1)
	require.Nil(t, s.Stops()[0].LastListFailure, "no list has failed yet")
	require.False(t, s.Stops()[0].WasRunning)

	c.start(first)
	require.Eventually(t, func() bool {
		clock.Advance(5 * tick)
		_, live := rec.snapshot()
		return live == 1
	}, waitFor, tick)

	s.FailLists(1)
	require.Equal(t, http.StatusInternalServerError, c.call(http.MethodGet, "/applications", nil).status)
	failedAt := clock.Now()
	clock.Advance(3 * tick)
	require.Equal(t, http.StatusOK, c.call(http.MethodGet, "/applications", nil).status)

	s.SetErrorRate(1)
	require.Equal(t, http.StatusInternalServerError, c.call(http.MethodPost, "/applications/"+first+"/stop", nil).status)
	require.Len(t, s.Stops(), 1, "a 500 before the controller stops nothing")
	s.SetErrorRate(0)

	require.Equal(t, http.StatusOK, c.call(http.MethodPost, "/applications/"+first+"/stop", nil).status)
	require.Equal(t, http.StatusOK, c.call(http.MethodDelete, "/applications/"+second, nil).status)
	require.Equal(t, http.StatusNotFound, c.call(http.MethodPost, "/applications/nope/stop", nil).status)

	var stops []StopRecord
	c.call(http.MethodGet, "/_sim/stops", nil).decode(t, &stops)
	require.Len(t, stops, 3)
	stop, del := stops[1], stops[2]
	require.Equal(t, "stop", stop.Op)
	require.Equal(t, first, stop.AppUUID)
	require.Equal(t, "pool-zoom-001", stop.AppName)
	require.True(t, stop.WasRunning)
	require.NotNil(t, stop.LastListFailure)
	require.True(t, stop.LastListFailure.Equal(failedAt))
	require.Equal(t, "delete", del.Op)
	require.Equal(t, second, del.AppUUID)
	require.False(t, del.WasRunning)
}
