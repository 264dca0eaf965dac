package coolifysim

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/meeboter/meeboter/pkg/clock"
	"github.com/meeboter/meeboter/pkg/platform/simcontainer"
)

// Config configures a simulator. The zero value is usable: every field has
// Coolify's default (or a generated value) unless noted.
type Config struct {
	// Token is the Bearer token (Sanctum "<id>|<secret>"); any other one is
	// answered 401 {"message":"Unauthenticated."}. Empty: one is generated
	// (see Sim.Token).
	Token string
	// ProjectUUID, ServerUUID and EnvironmentName identify the one project,
	// server and environment of the simulated team (defaults: generated uuids,
	// "production"). Others are answered 404 as Coolify does.
	ProjectUUID, ServerUUID, EnvironmentName string
	// ConcurrentBuilds is the server's concurrent_builds: deployments in
	// progress at once; more stay "queued" (default 2).
	ConcurrentBuilds int
	// DeploymentQueueLimit is the server's deployment_queue_limit: queued
	// deployments beyond it are silently dropped (default 25).
	DeploymentQueueLimit int
	// ColdStart and WarmStart are how long a deployment is in progress (image
	// pull + container start): the first start of an image on the server is
	// cold, later ones warm (defaults 3s / 300ms; negative: zero).
	ColdStart, WarmStart time.Duration
	// StatusLag delays what GET shows as an application's status and restart
	// counters: it shows them as of now-StatusLag (default 0).
	StatusLag time.Duration
	// DeleteDelay is how long an async delete waits before its job runs: GET
	// answers 200 until then (default 100ms; negative: zero).
	DeleteDelay time.Duration
	// RateLimitPerMinute is Coolify's per-user API throttle (API_RATE_LIMIT;
	// Coolify's default is 200). 0 turns it off, so tests that poll do not
	// trip it by accident; hack/sim defaults to 200.
	RateLimitPerMinute int
	// Workload is what a started container runs. Nil: nothing, the container
	// just "runs" until it is stopped.
	Workload Workload
	// RestartDelay is Docker's first restart backoff for unless-stopped
	// containers (default 100ms); it doubles per consecutive restart up to a
	// minute and resets after 10 s of running, as Docker's does.
	RestartDelay time.Duration
	// Seed seeds uuids, names and the error rate (0: random).
	Seed uint64
	// Clock is the time source (default time.Now). Everything time-dependent
	// follows it, so a test can move a fake clock instead of sleeping.
	Clock clock.Clock
	// Logger receives debug logs (default: discarded).
	Logger *slog.Logger
}

// Coolify's defaults, and the simulator's.
const (
	defaultConcurrentBuilds     = 2
	defaultDeploymentQueueLimit = 25
	defaultColdStart            = 3 * time.Second
	defaultWarmStart            = 300 * time.Millisecond
	defaultDeleteDelay          = 100 * time.Millisecond
	defaultRestartDelay         = 100 * time.Millisecond
	defaultEnvironment          = "production"
	// coolifyVersion is what GET /version answers and env rows carry.
	coolifyVersion = "4.3.11"
	// tickEvery is how often the background ticker fires due events.
	tickEvery = 5 * time.Millisecond
)

// Sim is a simulated Coolify instance: one team, one project with one
// environment, one server with one destination.
type Sim struct {
	cfg      Config
	log      *slog.Logger
	clock    func() time.Time
	workload Workload
	envUUID  string // the environment's uuid (it can be addressed by uuid too)

	mu sync.Mutex
	// events is the schedule; see simcontainer.Events.
	events       simcontainer.Events
	rng          *rand.Rand
	apps         map[string]*app // live applications, incl. ones being deleted
	gone         []*app          // deleted ones, for Apps()
	nextID       map[string]int  // per table
	deployments  []*deployment   // creation order
	deployByUUID map[string]*deployment
	images       map[string]bool // images present on the server
	knobs        knobs
	limiter      *limiter
	stats        statsCounters
	closed       bool
	// stops and lastListFailure are what Stops reports.
	stops           []StopRecord
	lastListFailure time.Time

	baseCtx    context.Context
	cancelAll  context.CancelCauseFunc
	stopTicker chan struct{}
	tickerDone chan struct{}
	workloads  sync.WaitGroup
}

// New starts a simulator; Close stops it.
func New(cfg Config) *Sim {
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	cfg = withDefaults(cfg, rng)
	ctx, cancel := context.WithCancelCause(context.Background())
	s := &Sim{
		cfg:          cfg,
		log:          cfg.Logger,
		clock:        cfg.Clock.Now,
		workload:     cfg.Workload,
		envUUID:      randomID(rng),
		rng:          rng,
		apps:         map[string]*app{},
		nextID:       map[string]int{},
		deployByUUID: map[string]*deployment{},
		images:       map[string]bool{},
		knobs: knobs{coldStart: cfg.ColdStart, warmStart: cfg.WarmStart,
			statusLag: cfg.StatusLag},
		limiter:    newLimiter(cfg.RateLimitPerMinute),
		stats:      newStatsCounters(),
		baseCtx:    ctx,
		cancelAll:  cancel,
		stopTicker: make(chan struct{}),
		tickerDone: make(chan struct{}),
	}
	if s.workload == nil {
		s.workload = idleWorkload
	}
	go s.tick()
	return s
}

func withDefaults(cfg Config, rng *rand.Rand) Config {
	if cfg.Token == "" {
		cfg.Token = "1|" + randomString(rng, 40, alnum)
	}
	if cfg.ProjectUUID == "" {
		cfg.ProjectUUID = randomID(rng)
	}
	if cfg.ServerUUID == "" {
		cfg.ServerUUID = randomID(rng)
	}
	if cfg.EnvironmentName == "" {
		cfg.EnvironmentName = defaultEnvironment
	}
	if cfg.ConcurrentBuilds <= 0 {
		cfg.ConcurrentBuilds = defaultConcurrentBuilds
	}
	if cfg.DeploymentQueueLimit <= 0 {
		cfg.DeploymentQueueLimit = defaultDeploymentQueueLimit
	}
	cfg.ColdStart = durationDefault(cfg.ColdStart, defaultColdStart)
	cfg.WarmStart = durationDefault(cfg.WarmStart, defaultWarmStart)
	cfg.DeleteDelay = durationDefault(cfg.DeleteDelay, defaultDeleteDelay)
	cfg.RestartDelay = durationDefault(cfg.RestartDelay, defaultRestartDelay)
	cfg.StatusLag = max(cfg.StatusLag, 0)
	cfg.RateLimitPerMinute = max(cfg.RateLimitPerMinute, 0)
	if cfg.Clock == nil {
		cfg.Clock = clock.Wall{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return cfg
}

// durationDefault maps zero to def and negative to zero.
func durationDefault(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// NewServer starts a simulator behind an httptest server, both closed when
// the test ends. The API base URL is srv.URL + "/api/v1".
func NewServer(t testing.TB, cfg Config) (*Sim, *httptest.Server) {
	t.Helper()
	s := New(cfg)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		srv.Close()
		s.Close()
	})
	return s, srv
}

// Config is the effective configuration (defaults filled in, generated
// token and uuids included).
func (s *Sim) Config() Config { return s.cfg }

// Token is the API token the simulator accepts.
func (s *Sim) Token() string { return s.cfg.Token }

// Close stops every running container (its Workload's context is
// cancelled) and waits for the workloads to return.
func (s *Sim) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	close(s.stopTicker)
	<-s.tickerDone
	s.cancelAll(errClosed)
	s.workloads.Wait()
}

// tick fires due events until Close.
func (s *Sim) tick() {
	simcontainer.Tick(s.stopTicker, s.tickerDone, tickEvery, func() {
		s.mu.Lock()
		s.advance()
		s.mu.Unlock()
	})
}

// now is the simulator's current time: the due time of the event being
// fired, else the clock. Call with s.mu held.
func (s *Sim) now() time.Time { return s.events.Now(s.clock) }

// at schedules fn (run with s.mu held) at t.
func (s *Sim) at(t time.Time, fn func()) { s.events.At(t, fn) }

// after schedules fn d after now.
func (s *Sim) after(d time.Duration, fn func()) { s.at(s.now().Add(d), fn) }

// advance fires every event that is due, in time order, including the ones
// they schedule. Call with s.mu held.
func (s *Sim) advance() { s.events.Advance(s.clock()) }

// id returns the next auto-increment id of a table.
func (s *Sim) id(table string) int {
	s.nextID[table]++
	return s.nextID[table]
}
