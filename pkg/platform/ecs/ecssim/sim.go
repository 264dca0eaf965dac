package ecssim

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

// Config configures a simulator. The zero value is usable: every field has a
// default (or a generated value) unless noted. Durations follow one rule:
// zero means the default, negative means zero.
type Config struct {
	// AccessKeyID and SecretAccessKey are the one IAM key the simulator
	// knows. Requests are SigV4-verified with the SDK's own signer: another
	// key id is answered UnrecognizedClientException, a wrong secret (or a
	// tampered request) InvalidSignatureException, as AWS does. Empty:
	// generated (see Sim.Config).
	AccessKeyID, SecretAccessKey string
	// Region (default us-east-1) and Account (default 123456789012) go into
	// ARNs; a request signed for another region is refused.
	Region, Account string
	// Clusters are the cluster names that exist (default ["default"]).
	// Others are answered ClusterNotFoundException.
	Clusters []string
	// TaskDefinitions are the registered task definitions, keyed
	// "family[:revision]" (revision 1 when omitted). A zero TaskDef field
	// takes its value from the key or its default. Default: one task
	// definition "bot:1" whose container is "bot". A RunTask naming another
	// one is answered ClientException "Unable to describe task definition.".
	TaskDefinitions map[string]TaskDef
	// ProvisioningDelay is PROVISIONING (ENI attach; default 200ms),
	// PendingDelay PENDING (image pull and container start; default 500ms),
	// ActivatingDelay ACTIVATING on the way up and DEACTIVATING on the way
	// down (default 0: both skipped, as for a RunTask task without service
	// discovery or load balancers), StopDelay STOPPING plus DEPROVISIONING
	// once the container has stopped (default 300ms, split evenly).
	ProvisioningDelay, PendingDelay, ActivatingDelay, StopDelay time.Duration
	// StopTimeout is the container's stopTimeout: after a stop the workload
	// gets its context cancelled (SIGTERM) and is killed (exit 137) this much
	// later if it has not returned (default 30s, Fargate's default).
	StopTimeout time.Duration
	// ConsistencyLag is ECS's eventual consistency: a new task is MISSING
	// from DescribeTasks, absent from ListTasks and unknown to StopTask for
	// this long after RunTask returned it (default 0).
	ConsistencyLag time.Duration
	// StoppedRetention is how long a STOPPED task stays describable and
	// listable (desiredStatus STOPPED) before it is forgotten (default 1h,
	// ECS's documented minimum).
	StoppedRetention time.Duration
	// MaxProvisioningTasks is the per-cluster quota of tasks in PROVISIONING;
	// a RunTask that would exceed it is answered ClientException (default
	// 500, ECS's quota).
	MaxProvisioningTasks int
	// NoThrottle turns off the request-rate token buckets (ECS's per-account
	// buckets per action category, and the Fargate task-launch rate). They
	// are on in the zero value because real ECS always throttles; turn them
	// off for tests that poll hard, or later with SetThrottle.
	NoThrottle bool
	// Workload is what a started task's essential container runs. Nil: it
	// just runs until the task is stopped.
	Workload Workload
	// Clock is the time source (default time.Now). Everything time-dependent
	// follows it, so a test can move a fake clock instead of sleeping.
	Clock clock.Clock
	// Logger receives debug logs (default: discarded).
	Logger *slog.Logger
	// Seed seeds ids and the error rates (0: random).
	Seed uint64
}

// TaskDef is a registered task definition with one essential container, the
// only shape the simulator runs.
type TaskDef struct {
	Family   string
	Revision int
	// ContainerName is the essential container's name (default: the family);
	// containerOverrides must name it.
	ContainerName string
	// Image is the container image shown in DescribeTasks (default
	// "<family>:latest").
	Image string
	// Environment is the container definition's environment; RunTask's
	// containerOverrides[].environment is overlaid on it.
	Environment map[string]string
	// CPU and Memory are the task size shown in DescribeTasks (defaults
	// "1024" and "2048").
	CPU, Memory string
}

// Defaults: ECS's where it has one, short ones for latencies.
const (
	defaultRegion            = "us-east-1"
	defaultAccount           = "123456789012"
	defaultCluster           = "default"
	defaultProvisioningDelay = 200 * time.Millisecond
	defaultPendingDelay      = 500 * time.Millisecond
	defaultStopDelay         = 300 * time.Millisecond
	defaultStopTimeout       = 30 * time.Second
	defaultStoppedRetention  = time.Hour
	defaultMaxProvisioning   = 500
	// clientTokenTTL is how long RunTask remembers a clientToken.
	clientTokenTTL = 24 * time.Hour
	// tickEvery is how often the background ticker fires due events.
	tickEvery = 5 * time.Millisecond
)

// Sim is a simulated ECS control plane for one account in one region, with
// Fargate as the only capacity.
type Sim struct {
	cfg      Config
	log      *slog.Logger
	clock    func() time.Time
	workload Workload
	defs     []TaskDef // normalised, sorted by family then revision

	mu sync.Mutex
	// events is the schedule; see simcontainer.Events.
	events  simcontainer.Events
	rng     *rand.Rand
	taskSeq uint64
	tasks   map[string]*task // by id: the tasks ECS still knows about
	all     []*task          // every task ever created, in order
	tokens  map[tokenKey]*tokenRecord
	buckets map[category]*bucket
	knobs   knobs
	stats   statsCounters
	closed  bool
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
		cfg:      cfg,
		log:      cfg.Logger,
		clock:    cfg.Clock.Now,
		workload: cfg.Workload,
		defs:     normaliseTaskDefs(cfg.TaskDefinitions),
		rng:      rng,
		tasks:    map[string]*task{},
		tokens:   map[tokenKey]*tokenRecord{},
		knobs: knobs{throttle: !cfg.NoThrottle, consistencyLag: cfg.ConsistencyLag, delays: Delays{
			Provisioning: cfg.ProvisioningDelay, Pending: cfg.PendingDelay,
			Activating: cfg.ActivatingDelay, Stop: cfg.StopDelay,
		}},
		stats:      newStatsCounters(),
		baseCtx:    ctx,
		cancelAll:  cancel,
		stopTicker: make(chan struct{}),
		tickerDone: make(chan struct{}),
	}
	s.buckets = newBuckets(cfg.Clock.Now())
	if s.workload == nil {
		s.workload = idleWorkload
	}
	go s.tick()
	return s
}

func withDefaults(cfg Config, rng *rand.Rand) Config {
	if cfg.AccessKeyID == "" {
		cfg.AccessKeyID = "AKIA" + randomString(rng, 16, upperAlnum)
	}
	if cfg.SecretAccessKey == "" {
		cfg.SecretAccessKey = randomString(rng, 40, alnum)
	}
	if cfg.Region == "" {
		cfg.Region = defaultRegion
	}
	if cfg.Account == "" {
		cfg.Account = defaultAccount
	}
	if len(cfg.Clusters) == 0 {
		cfg.Clusters = []string{defaultCluster}
	}
	if len(cfg.TaskDefinitions) == 0 {
		cfg.TaskDefinitions = map[string]TaskDef{"bot:1": {ContainerName: "bot"}}
	}
	cfg.ProvisioningDelay = durationDefault(cfg.ProvisioningDelay, defaultProvisioningDelay)
	cfg.PendingDelay = durationDefault(cfg.PendingDelay, defaultPendingDelay)
	cfg.ActivatingDelay = max(cfg.ActivatingDelay, 0)
	cfg.StopDelay = durationDefault(cfg.StopDelay, defaultStopDelay)
	cfg.StopTimeout = durationDefault(cfg.StopTimeout, defaultStopTimeout)
	cfg.ConsistencyLag = max(cfg.ConsistencyLag, 0)
	cfg.StoppedRetention = durationDefault(cfg.StoppedRetention, defaultStoppedRetention)
	if cfg.MaxProvisioningTasks <= 0 {
		cfg.MaxProvisioningTasks = defaultMaxProvisioning
	}
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
// the test ends. Point the SDK at srv.URL (BaseEndpoint or
// AWS_ENDPOINT_URL_ECS).
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

// Config is the effective configuration (defaults filled in, generated keys
// included).
func (s *Sim) Config() Config { return s.cfg }

// TaskDefinitions are the registered task definitions, normalised.
func (s *Sim) TaskDefinitions() []TaskDef { return cloneDefs(s.defs) }

// Close stops every running workload (its context is cancelled) and waits
// for the workloads to return.
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

// after schedules fn (run with s.mu held) d after now.
func (s *Sim) after(d time.Duration, fn func()) { s.events.At(s.now().Add(d), fn) }

// advance fires every event that is due, in time order, including the ones
// they schedule. Call with s.mu held.
func (s *Sim) advance() { s.events.Advance(s.clock()) }

// set runs fn under the lock after firing due events.
func (s *Sim) set(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
	fn()
}
