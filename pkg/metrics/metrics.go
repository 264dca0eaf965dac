package metrics

import (
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Label values used across families.
const (
	ResultSuccess = "success"
	ResultError   = "error"

	StartWarm = "warm" // a Coolify slot that already existed
	StartCold = "cold" // a new slot, ECS task or local process
)

// Metrics holds every family. A nil *Metrics is valid and records nothing,
// so packages can be used (and tested) without instrumentation.
type Metrics struct {
	Registry *prometheus.Registry

	Reconciles              *prometheus.CounterVec   // controller, result
	ReconcileDuration       *prometheus.HistogramVec // controller
	PlatformRequests        *prometheus.CounterVec   // platform, operation, code
	PlatformRequestDuration *prometheus.HistogramVec // platform, operation
	PlatformThrottled       *prometheus.CounterVec   // platform, operation
	DeployDuration          *prometheus.HistogramVec // platform, start
	CreateToInCall          *prometheus.HistogramVec // platform, start
	JoinLateness            *prometheus.HistogramVec // platform
	DeadlineExpiries        *prometheus.CounterVec   // deadline
	BotsFinished            *prometheus.CounterVec   // status, reason
	OrphansCollected        *prometheus.CounterVec   // platform
	DriftCorrections        *prometheus.CounterVec   // platform, kind
	WebhookDeliveries       *prometheus.CounterVec   // target, outcome
	RecordingsStored        prometheus.Counter
	RecordingBytes          prometheus.Counter
	HTTPRequests            *prometheus.CounterVec   // handler, code
	HTTPRequestDuration     *prometheus.HistogramVec // handler
	HTTPPanics              *prometheus.CounterVec   // handler

	state      *stateCollector
	collectors []prometheus.Collector
}

// Options configures New.
type Options struct {
	// State reads the database figures; nil leaves them out.
	State StateSource
	// StateTTL is how long a database snapshot is served (default 5 s).
	StateTTL time.Duration
	// Platforms are the configured deployment platforms: their bot gauges
	// exist (as 0) before the first bot.
	Platforms []string
}

var durationBuckets = []float64{0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200}

// latenessBuckets are signed: a bot that entered early observes a negative
// value, and le="0" counts every bot that was not late.
var latenessBuckets = []float64{-300, -60, -30, -10, -5, -2, -1, -0.5, 0, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600}

// New builds and registers every family, the Go runtime and process
// collectors, and (with opts.State) the database collector.
func New(opts Options) *Metrics {
	m := &Metrics{Registry: prometheus.NewRegistry()}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return m.add(prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)).(*prometheus.CounterVec)
	}
	histogram := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		return m.add(prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)).(*prometheus.HistogramVec)
	}
	m.Reconciles = counter("meeboter_reconciles_total", "Reconcile passes by controller and result.", "controller", "result")
	m.ReconcileDuration = histogram("meeboter_reconcile_duration_seconds", "Time one reconcile pass took.",
		[]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}, "controller")
	m.PlatformRequests = counter("meeboter_platform_requests_total",
		"Deployment platform API calls by platform, operation and HTTP status code (\"error\" when no response).",
		"platform", "operation", "code")
	m.PlatformRequestDuration = histogram("meeboter_platform_request_duration_seconds", "Latency of deployment platform API calls.",
		[]float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}, "platform", "operation")
	m.PlatformThrottled = counter("meeboter_platform_throttled_total",
		"Platform API calls answered 429 or throttled (ECS ThrottlingException).", "platform", "operation")
	m.DeployDuration = histogram("meeboter_deploy_duration_seconds",
		"From an attempt's deploy start to the bot's first report (its container is up).", durationBuckets, "platform", "start")
	m.CreateToInCall = histogram("meeboter_create_to_in_call_seconds",
		"From a bot's creation (or its join_at, when scheduled) to its first IN_CALL.", durationBuckets, "platform", "start")
	m.JoinLateness = histogram("meeboter_join_lateness_seconds",
		"When a scheduled bot began entering its meeting (its first JOINING_CALL) minus its join_at: negative is early.",
		latenessBuckets, "platform")
	m.DeadlineExpiries = counter("meeboter_deadline_expiries_total",
		"Bots ended by a deadline: heartbeat, deploy, leave, queue or lifetime.", "deadline")
	m.BotsFinished = counter("meeboter_bots_finished_total", "Bots that reached DONE or FATAL, by reason.", "status", "reason")
	m.OrphansCollected = counter("meeboter_orphans_collected_total",
		"Workloads no live deployment owns that the garbage collector stopped or deleted.", "platform")
	m.DriftCorrections = counter("meeboter_drift_corrections_total",
		"Corrections of observed state that drifted from the desired one (pool slots re-specced, stops re-issued, slots gone).",
		"platform", "kind")
	m.WebhookDeliveries = counter("meeboter_webhook_deliveries_total", "Webhook delivery attempts by target and outcome.",
		"target", "outcome")
	m.RecordingsStored = m.add(prometheus.NewCounter(prometheus.CounterOpts{Name: "meeboter_recordings_stored_total",
		Help: "Recordings uploaded and verified."})).(prometheus.Counter)
	m.RecordingBytes = m.add(prometheus.NewCounter(prometheus.CounterOpts{Name: "meeboter_recording_bytes_total",
		Help: "Bytes of verified recordings."})).(prometheus.Counter)
	m.HTTPRequests = counter("meeboter_http_requests_total", "API requests by route and status code.", "handler", "code")
	m.HTTPRequestDuration = histogram("meeboter_http_request_duration_seconds", "API request latency by route.",
		[]float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}, "handler")
	m.HTTPPanics = counter("meeboter_http_panics_total", "API handlers that panicked (answered 500), by route.", "handler")

	m.add(collectors.NewGoCollector())
	m.add(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.state = newStateCollector(opts)
	m.add(m.state)
	return m
}

// SetLeading tells the metrics how to ask whether this replica leads (holds
// Meeboter's leadership) right now: meeboter_leader is read at each scrape,
// not from the cached database snapshot.
func (m *Metrics) SetLeading(leading func() bool) {
	if m == nil {
		return
	}
	m.state.mu.Lock()
	m.state.leading = leading
	m.state.mu.Unlock()
}

func (m *Metrics) add(c prometheus.Collector) prometheus.Collector {
	m.Registry.MustRegister(c)
	m.collectors = append(m.collectors, c)
	return c
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// FamilyNames lists every metric family the registry can export, with the
// _bucket, _sum and _count series of histograms, whether or not it has a
// sample yet. Tests check alert rules and dashboards against it.
func (m *Metrics) FamilyNames() map[string]bool {
	names := map[string]bool{}
	for _, c := range m.collectors {
		descs := make(chan *prometheus.Desc, 256)
		go func() { c.Describe(descs); close(descs) }()
		for d := range descs {
			match := fqName.FindStringSubmatch(d.String())
			if match == nil {
				continue
			}
			names[match[1]] = true
			if _, ok := c.(*prometheus.HistogramVec); ok {
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					names[match[1]+suffix] = true
				}
			}
		}
	}
	return names
}
