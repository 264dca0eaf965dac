package main

import (
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"
)

// samples is one scrape: series ("name{k="v",…}", labels sorted) → value.
type samples map[string]float64

// scrape reads /metrics from a running controller with Prometheus's own
// text parser.
func scrape(t *testing.T, addr string) samples {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics") //nolint:noctx // a test's loopback scrape
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	out := samples{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			key := seriesKey(name, m.GetLabel())
			switch {
			case m.Counter != nil:
				out[key] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[key] = m.GetGauge().GetValue()
			case m.Histogram != nil:
				out[seriesKey(name+"_count", m.GetLabel())] = float64(m.GetHistogram().GetSampleCount())
				out[seriesKey(name+"_sum", m.GetLabel())] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	return out
}

func seriesKey(name string, labels []*dto.LabelPair) string {
	parts := make([]string, 0, len(labels))
	for _, l := range labels {
		parts = append(parts, l.GetName()+`="`+l.GetValue()+`"`)
	}
	sort.Strings(parts)
	return name + "{" + strings.Join(parts, ",") + "}"
}

// delta is how much a series grew between two scrapes (absent counts as 0).
func delta(before, after samples, series string) float64 { return after[series] - before[series] }

// requireMetricsMoved checks what TestEndToEnd's bots did, as an operator's
// Prometheus would see it.
func requireMetricsMoved(t *testing.T, addr string, before samples) {
	t.Helper()
	var after samples
	// The database gauges are cached for METRICS_CACHE_TTL.
	require.Eventually(t, func() bool {
		after = scrape(t, addr)
		return after[`meeboter_bots{platform="local",status="IN_CALL"}`] == 0
	}, 10*time.Second, 100*time.Millisecond, "no bot is left in a call")
	require.GreaterOrEqual(t, delta(before, after, `meeboter_create_to_in_call_seconds_count{platform="local",start="cold"}`), 4.0,
		"every bot that reached IN_CALL was timed")
	require.GreaterOrEqual(t, delta(before, after, `meeboter_deploy_duration_seconds_count{platform="local",start="cold"}`), 4.0)
	require.Equal(t, 1.0, delta(before, after, `meeboter_deadline_expiries_total{deadline="heartbeat"}`), "the bot that stopped beating")
	require.Equal(t, 1.0, delta(before, after, `meeboter_deadline_expiries_total{deadline="leave"}`), "the forced leave")
	require.Equal(t, 1.0, delta(before, after, `meeboter_bots_finished_total{reason="completed",status="DONE"}`))
	require.Equal(t, 1.0, delta(before, after, `meeboter_bots_finished_total{reason="container_exited",status="FATAL"}`))
	require.Positive(t, delta(before, after, `meeboter_reconciles_total{controller="bot",result="success"}`))
	require.Positive(t, delta(before, after, `meeboter_reconciles_total{controller="observer",result="success"}`))
	require.Positive(t, delta(before, after, `meeboter_http_requests_total{code="201",handler="POST /api/v1/bots"}`))
	require.Equal(t, 1.0, delta(before, after, `meeboter_orphans_collected_total{platform="local"}`), "the orphan process")
	require.Positive(t, after[`meeboter_bots{platform="local",status="DONE"}`])
	require.Equal(t, 1.0, after[`meeboter_leader{}`], "the only replica leads")
	require.Zero(t, after[`meeboter_queue_length{}`])
	require.Contains(t, after, `meeboter_river_jobs{queue="reconcile",state="completed"}`)
	require.Contains(t, after, `go_goroutines{}`)
	require.Contains(t, after, `process_resident_memory_bytes{}`)
}
