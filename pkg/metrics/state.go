package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Snapshot is the database's state at one moment.
type Snapshot struct {
	Bots           []BotCount  // by status and platform ("" before deploy)
	Slots          []SlotCount // pool slots by state and meeting platform
	QueueLength    int
	OldestQueuedAt *time.Time
	Jobs           []JobCount // River jobs by queue and state
	TakenAt        time.Time
}

// BotCount is bots of one status on one platform.
type BotCount struct {
	Status, Platform string
	N                int
}

// SlotCount is pool slots of one state for one meeting platform.
type SlotCount struct {
	State, MeetingPlatform string
	N                      int
}

// JobCount is River jobs of one queue in one state.
type JobCount struct {
	Queue, State string
	N            int
}

// StateSource reads a Snapshot (the store, in one round trip).
type StateSource interface {
	MetricsSnapshot(ctx context.Context) (Snapshot, error)
}

// Statuses, slot states and job states every snapshot reports, as 0 when
// absent, so alerts and dashboards see stable series.
var (
	botStatuses = []string{"SCHEDULED", "QUEUED", "DEPLOYING", "READY", "JOINING_CALL", "IN_WAITING_ROOM", "IN_CALL", "LEAVING", "DONE", "FATAL"}
	jobStates   = []string{"available", "scheduled", "running", "retryable", "discarded", "cancelled", "completed", "pending"}
)

type stateCollector struct {
	source    StateSource
	ttl       time.Duration
	platforms []string

	mu       sync.Mutex
	leading  func() bool
	snap     Snapshot
	haveSnap bool

	bots, slots, queue, oldest, jobs, leader, age *prometheus.Desc
	errors                                        prometheus.Counter
}

func newStateCollector(opts Options) *stateCollector {
	if opts.StateTTL <= 0 {
		opts.StateTTL = 5 * time.Second
	}
	return &stateCollector{source: opts.State, ttl: opts.StateTTL, platforms: opts.Platforms,
		bots:   prometheus.NewDesc("meeboter_bots", "Bots by status and deployment platform (none before deploy).", []string{"status", "platform"}, nil),
		slots:  prometheus.NewDesc("meeboter_pool_slots", "Coolify pool slots by state and meeting platform.", []string{"state", "meeting_platform"}, nil),
		queue:  prometheus.NewDesc("meeboter_queue_length", "Bots waiting in QUEUED for capacity.", nil, nil),
		oldest: prometheus.NewDesc("meeboter_queue_oldest_age_seconds", "Age of the oldest QUEUED bot (0 when none).", nil, nil),
		jobs:   prometheus.NewDesc("meeboter_river_jobs", "River jobs by queue and state.", []string{"queue", "state"}, nil),
		leader: prometheus.NewDesc("meeboter_leader", "1 when this replica holds Meeboter's leadership (runs admission, resync, observers, GC and the pool).", nil, nil),
		age:    prometheus.NewDesc("meeboter_state_age_seconds", "Age of the database snapshot these gauges come from.", nil, nil),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Name: "meeboter_state_refresh_errors_total",
			Help: "Failed reads of the database snapshot (the previous one is served)."}),
	}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.bots, c.slots, c.queue, c.oldest, c.jobs, c.leader, c.age} {
		ch <- d
	}
	c.errors.Describe(ch)
}

// snapshot returns the cached snapshot, refreshing it when older than ttl.
// The lock makes concurrent scrapes share one query.
func (c *stateCollector) snapshot() (Snapshot, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.haveSnap && time.Since(c.snap.TakenAt) < c.ttl {
		return c.snap, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	snap, err := c.source.MetricsSnapshot(ctx)
	if err != nil {
		c.errors.Inc()
		return c.snap, c.haveSnap
	}
	c.snap, c.haveSnap = snap, true
	return snap, true
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	c.errors.Collect(ch)
	if c.source == nil {
		return
	}
	snap, ok := c.snapshot()
	if !ok {
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	bots := map[[2]string]int{}
	for _, p := range append([]string{"none"}, c.platforms...) {
		for _, s := range botStatuses {
			bots[[2]string{s, p}] = 0
		}
	}
	for _, b := range snap.Bots {
		p := b.Platform
		if p == "" {
			p = "none"
		}
		bots[[2]string{b.Status, p}] += b.N
	}
	for k, n := range bots {
		gauge(c.bots, float64(n), k[0], k[1])
	}
	for _, s := range snap.Slots {
		gauge(c.slots, float64(s.N), s.State, s.MeetingPlatform)
	}
	gauge(c.queue, float64(snap.QueueLength))
	oldest := 0.0
	if snap.OldestQueuedAt != nil {
		oldest = max(0, snap.TakenAt.Sub(*snap.OldestQueuedAt).Seconds())
	}
	gauge(c.oldest, oldest)
	c.collectJobs(snap, gauge)
	c.mu.Lock()
	leading := c.leading
	c.mu.Unlock()
	leader := 0.0
	if leading != nil && leading() {
		leader = 1
	}
	gauge(c.leader, leader)
	gauge(c.age, time.Since(snap.TakenAt).Seconds())
}

func (c *stateCollector) collectJobs(snap Snapshot, gauge func(*prometheus.Desc, float64, ...string)) {
	jobs := map[[2]string]int{}
	for _, j := range snap.Jobs {
		jobs[[2]string{j.Queue, j.State}] += j.N
	}
	queues := map[string]bool{}
	for k := range jobs {
		queues[k[0]] = true
	}
	for q := range queues {
		for _, s := range jobStates {
			if _, ok := jobs[[2]string{q, s}]; !ok {
				jobs[[2]string{q, s}] = 0
			}
		}
	}
	for k, n := range jobs {
		gauge(c.jobs, float64(n), k[0], k[1])
	}
}
