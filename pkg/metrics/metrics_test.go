package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/metrics"
	"github.com/meeboter/meeboter/pkg/store"
)

// countingSource serves a fixed snapshot and counts reads.
type countingSource struct {
	reads atomic.Int32
	snap  metrics.Snapshot
	fail  atomic.Bool
}

func (s *countingSource) MetricsSnapshot(context.Context) (metrics.Snapshot, error) {
	s.reads.Add(1)
	if s.fail.Load() {
		return metrics.Snapshot{}, errors.New("database down")
	}
	snap := s.snap
	snap.TakenAt = time.Now()
	return snap, nil
}

func TestNilMetricsRecordNothing(t *testing.T) {
	t.Parallel()
	var m *metrics.Metrics
	require.NotPanics(t, func() {
		m.ObserveReconcile("bot", time.Now(), nil)
		m.PlatformRequest("aws", "RunTask", 200, time.Second, false)
		m.BotFinished("FATAL", "heartbeat_timeout")
		m.ObserveDeploy("local", false, time.Second)
		m.ObserveInCall("local", true, time.Second)
		m.ObserveLateness("local", time.Second)
		m.OrphanCollected("local")
		m.DriftCorrected("coolify", "spec")
		m.WebhookDelivery("callback", "delivered")
		m.RecordingStored(10)
		m.HTTPRequest("GET /healthz", 200, time.Millisecond)
		m.SetLeading(func() bool { return true })
	})
}

func TestEventFamilies(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	m.BotFinished("FATAL", "heartbeat_timeout")
	m.BotFinished("DONE", "completed")
	require.InDelta(t, 1, testutil.ToFloat64(m.DeadlineExpiries.WithLabelValues("heartbeat")), 0)
	require.InDelta(t, 1, testutil.ToFloat64(m.BotsFinished.WithLabelValues("DONE", "completed")), 0)
	m.PlatformRequest("coolify", "start_application", 429, time.Millisecond, false)
	m.PlatformRequest("aws", "RunTask", 400, time.Millisecond, true)
	m.PlatformRequest("aws", "RunTask", 0, time.Millisecond, false)
	require.InDelta(t, 1, testutil.ToFloat64(m.PlatformThrottled.WithLabelValues("coolify", "start_application")), 0)
	require.InDelta(t, 1, testutil.ToFloat64(m.PlatformThrottled.WithLabelValues("aws", "RunTask")), 0)
	require.InDelta(t, 1, testutil.ToFloat64(m.PlatformRequests.WithLabelValues("aws", "RunTask", "error")), 0)
	m.ObserveReconcile("gc", time.Now(), errors.New("boom"))
	require.InDelta(t, 1, testutil.ToFloat64(m.Reconciles.WithLabelValues("gc", metrics.ResultError)), 0)
	// Lateness is signed: two early bots, one late.
	m.ObserveLateness("aws", -3*time.Second)
	m.ObserveLateness("aws", -200*time.Millisecond)
	m.ObserveLateness("aws", 4*time.Second)
	require.Equal(t, 1, testutil.CollectAndCount(m.JoinLateness), "one series: aws")
	var hist dto.Metric
	require.NoError(t, m.JoinLateness.WithLabelValues("aws").(prometheus.Histogram).Write(&hist))
	onTime := 0.0
	for _, b := range hist.GetHistogram().GetBucket() {
		if b.GetUpperBound() == 0 {
			onTime = float64(b.GetCumulativeCount())
		}
	}
	require.InDelta(t, 2, onTime, 0, "le=0 counts the bots that were not late")

	// Names follow Prometheus conventions, whether or not they have samples.
	names := m.FamilyNames()
	for name := range names {
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
			continue
		}
		require.True(t, strings.HasPrefix(name, "meeboter_"), name)
	}
	for _, want := range []string{"meeboter_create_to_in_call_seconds_bucket", "meeboter_deploy_duration_seconds_count",
		"meeboter_bots", "meeboter_leader", "meeboter_river_jobs", "meeboter_queue_oldest_age_seconds", "go_goroutines"} {
		require.True(t, names[want], want)
	}
}

func TestStateIsReadOncePerTTL(t *testing.T) {
	t.Parallel()
	queuedAt := time.Now().Add(-90 * time.Second)
	src := &countingSource{snap: metrics.Snapshot{
		Bots:        []metrics.BotCount{{Status: "IN_CALL", Platform: "local", N: 3}, {Status: "QUEUED", N: 2}},
		Slots:       []metrics.SlotCount{{State: "IDLE", MeetingPlatform: "zoom", N: 4}},
		QueueLength: 2, OldestQueuedAt: &queuedAt,
		Jobs: []metrics.JobCount{{Queue: "reconcile", State: "running", N: 5}},
	}}
	m := metrics.New(metrics.Options{State: src, StateTTL: time.Hour, Platforms: []string{"local", "aws"}})
	var leading atomic.Bool
	leading.Store(true)
	m.SetLeading(leading.Load)
	for range 5 {
		_, err := m.Registry.Gather()
		require.NoError(t, err)
	}
	require.EqualValues(t, 1, src.reads.Load(), "five scrapes, one database read")

	got := gathered(t, m)
	require.InDelta(t, 3, got[`meeboter_bots{platform="local",status="IN_CALL"}`], 0)
	require.InDelta(t, 2, got[`meeboter_bots{platform="none",status="QUEUED"}`], 0)
	require.Contains(t, got, `meeboter_bots{platform="aws",status="FATAL"}`, "configured platforms have every status, as 0")
	require.InDelta(t, 4, got[`meeboter_pool_slots{meeting_platform="zoom",state="IDLE"}`], 0)
	require.InDelta(t, 2, got[`meeboter_queue_length`], 0)
	require.InDelta(t, 90, got[`meeboter_queue_oldest_age_seconds`], 2)
	require.InDelta(t, 5, got[`meeboter_river_jobs{queue="reconcile",state="running"}`], 0)
	require.Contains(t, got, `meeboter_river_jobs{queue="reconcile",state="discarded"}`)
	require.InDelta(t, 1, got[`meeboter_leader`], 0)
	leading.Store(false)
	require.InDelta(t, 0, gathered(t, m)[`meeboter_leader`], 0, "read at each scrape, not cached with the snapshot")
}

func TestStateServesTheLastSnapshotWhenTheDatabaseFails(t *testing.T) {
	t.Parallel()
	src := &countingSource{snap: metrics.Snapshot{QueueLength: 7}}
	m := metrics.New(metrics.Options{State: src, StateTTL: time.Nanosecond})
	require.InDelta(t, 7, gathered(t, m)[`meeboter_queue_length`], 0)
	src.fail.Store(true)
	got := gathered(t, m)
	require.InDelta(t, 7, got[`meeboter_queue_length`], 0)
	require.InDelta(t, 1, got[`meeboter_state_refresh_errors_total`], 0)
}

// gathered flattens a Gather into series → value.
func gathered(t *testing.T, m *metrics.Metrics) map[string]float64 {
	t.Helper()
	families, err := m.Registry.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, f := range families {
		for _, s := range f.GetMetric() {
			var labels []string
			for _, l := range s.GetLabel() {
				labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
			}
			key := f.GetName()
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case s.Gauge != nil:
				out[key] = s.GetGauge().GetValue()
			case s.Counter != nil:
				out[key] = s.GetCounter().GetValue()
			}
		}
	}
	return out
}

// TestBotFinishedBoundsReasonLabel: a reason a bot made up is counted under
// one label value, however many a bot sends; the controller's own reasons
// keep theirs (alerts and dashboards select on them).
func TestBotFinishedBoundsReasonLabel(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	for i := range 50 {
		m.BotFinished("FATAL", fmt.Sprintf("made_up_%d", i))
	}
	m.BotFinished("FATAL", "evil\"} 1\nmeeboter_leader 1")
	require.Equal(t, 1, testutil.CollectAndCount(m.BotsFinished), "one series for every unknown reason")
	require.InDelta(t, 51, testutil.ToFloat64(m.BotsFinished.WithLabelValues("FATAL", metrics.ReasonOther)), 0)

	known := []string{store.ReasonCompleted, store.ReasonCancelled, store.ReasonRemoved, store.ReasonHeartbeat,
		store.ReasonDeployTimeout, store.ReasonQueueTimeout, store.ReasonLeaveTimeout, store.ReasonMaxLifetime,
		store.ReasonContainerExited, store.ReasonContainerRestarted, store.ReasonPlatformError, store.ReasonBotFatal,
		store.ReasonRecordingMissing, "recording_upload_failed"}
	for _, r := range known {
		require.Equal(t, r, metrics.ReasonLabel(r))
	}
}

// TestHTTPPanicCounted: the recover middleware's counter, by route.
func TestHTTPPanicCounted(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	m.HTTPPanic("GET /api/v1/bots/{id}")
	require.InDelta(t, 1, testutil.ToFloat64(m.HTTPPanics.WithLabelValues("GET /api/v1/bots/{id}")), 0)
	var nilMetrics *metrics.Metrics
	require.NotPanics(t, func() { nilMetrics.HTTPPanic("x") })
}
