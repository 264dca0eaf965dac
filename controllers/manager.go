package controllers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"go.uber.org/zap"

	"github.com/meeboter/meeboter/controllers/bot"
	"github.com/meeboter/meeboter/controllers/gc"
	"github.com/meeboter/meeboter/controllers/observer"
	"github.com/meeboter/meeboter/pkg/metrics"
	"github.com/meeboter/meeboter/pkg/platform"
	"github.com/meeboter/meeboter/pkg/store"
	"github.com/meeboter/meeboter/pkg/webhook"
)

// Config configures the manager.
type Config struct {
	Bot             bot.Config
	PublicURL       string
	Platforms       []PlatformConfig // in priority order
	ReconcileWorker int              // concurrent reconciles (default 50)
	AdmitInterval   time.Duration    // periodic admission backstop (default 2 s)
	ResyncInterval  time.Duration    // default 5 s
	ObserveInterval time.Duration    // default 2 s
	GCInterval      time.Duration    // default 15 s
	GCGrace         time.Duration    // default 30 s
	JobTimeout      time.Duration    // default 30 s
	// Pool, when set, is the Coolify slot pool, run every PoolSyncInterval
	// (default 5 s) and whenever a slot is claimed or released.
	Pool             Runner
	PoolSyncInterval time.Duration
	Webhooks         WebhookConfig
	// Metrics instruments every controller; nil records nothing.
	Metrics *metrics.Metrics
	// ReplicaID names this replica's River client (default: River's own),
	// which the leader gauge compares with the elected leader.
	ReplicaID string
}

// PlatformConfig is one platform and its bot limit.
type PlatformConfig struct {
	Platform platform.Platform
	Limit    int
}

func (c *Config) defaults() {
	c.ReconcileWorker = cmp.Or(c.ReconcileWorker, 50)
	c.AdmitInterval = cmp.Or(c.AdmitInterval, 2*time.Second)
	c.ResyncInterval = cmp.Or(c.ResyncInterval, 5*time.Second)
	c.ObserveInterval = cmp.Or(c.ObserveInterval, 2*time.Second)
	c.GCInterval = cmp.Or(c.GCInterval, 15*time.Second)
	c.GCGrace = cmp.Or(c.GCGrace, 30*time.Second)
	c.JobTimeout = cmp.Or(c.JobTimeout, 30*time.Second)
	c.PoolSyncInterval = cmp.Or(c.PoolSyncInterval, 5*time.Second)
	if c.Webhooks.Sender == nil {
		c.Webhooks.Sender = &webhook.Sender{}
	}
	c.Webhooks.Sender.Timeout = cmp.Or(c.Webhooks.Sender.Timeout, webhook.DefaultTimeout)
	c.Webhooks.Window = cmp.Or(c.Webhooks.Window, webhook.DefaultWindow)
	c.Webhooks.RetryBase = cmp.Or(c.Webhooks.RetryBase, webhook.DefaultBackoffBase)
	c.Webhooks.Workers = cmp.Or(c.Webhooks.Workers, 20)
	c.Bot.MissingGrace = cmp.Or(c.Bot.MissingGrace, 10*time.Second)
	c.Bot.MaxCreateErrors = cmp.Or(c.Bot.MaxCreateErrors, 5)
}

// Enqueuer implements store.Enqueuer on the River client; it exists before
// the client so the store and the workers can be built first.
type Enqueuer struct {
	client atomic.Pointer[river.Client[pgx.Tx]]
	// Webhooks is set before the Enqueuer is used.
	Webhooks WebhookTargets
}

// NewEnqueuer returns an Enqueuer on an existing (e.g. insert-only) client.
func NewEnqueuer(client *river.Client[pgx.Tx]) *Enqueuer {
	e := &Enqueuer{}
	e.SetClient(client)
	return e
}

// SetClient sets the client jobs are inserted with.
func (e *Enqueuer) SetClient(client *river.Client[pgx.Tx]) { e.client.Store(client) }

var _ store.Enqueuer = (*Enqueuer)(nil)

// EnqueueReconcileTx implements store.Enqueuer.
func (e *Enqueuer) EnqueueReconcileTx(ctx context.Context, tx pgx.Tx, ids ...uuid.UUID) error {
	ids = slices.Clone(ids)
	// One order for every inserter, so concurrent batches cannot deadlock on
	// the unique index.
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	ids = slices.Compact(ids)
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: ReconcileArgs{BotID: id}}
	}
	_, err := e.mustClient().InsertManyTx(ctx, tx, params)
	return err
}

// EnqueueAdmitTx implements store.Enqueuer.
func (e *Enqueuer) EnqueueAdmitTx(ctx context.Context, tx pgx.Tx) error {
	_, err := e.mustClient().InsertTx(ctx, tx, AdmitArgs{}, nil)
	return err
}

func (e *Enqueuer) mustClient() *river.Client[pgx.Tx] {
	c := e.client.Load()
	if c == nil {
		panic("controllers: Enqueuer used before the River client was built")
	}
	return c
}

// Manager owns the River client and the controllers it runs.
type Manager struct {
	client *river.Client[pgx.Tx]
	logger *zap.Logger
}

// Deps are the manager's collaborators.
type Deps struct {
	Pool     *pgxpool.Pool
	Store    *store.Store
	Enqueuer *Enqueuer
	Clock    bot.Clock
	Logger   *zap.Logger
}

// New builds the River client with every worker and periodic job.
func New(cfg Config, deps Deps) (*Manager, error) {
	cfg.defaults()
	if len(cfg.Platforms) == 0 {
		return nil, errors.New("controllers: no platform configured")
	}
	log := deps.Logger
	workers := river.NewWorkers()
	platforms := map[string]platform.Platform{}
	var limits []bot.PlatformLimit
	observers := map[string]*observer.Observer{}
	collectors := map[string]*gc.Collector{}
	for _, pc := range cfg.Platforms {
		name := pc.Platform.Name()
		platforms[name] = pc.Platform
		limits = append(limits, bot.PlatformLimit{Platform: name, Limit: pc.Limit})
		observers[name] = &observer.Observer{Store: deps.Store, Platform: pc.Platform, Clock: deps.Clock,
			CreateGrace: cfg.Bot.MissingGrace, Logger: log.Named("observer")}
		collectors[name] = &gc.Collector{Store: deps.Store, Platform: pc.Platform, Clock: deps.Clock,
			Grace: cfg.GCGrace, Logger: log.Named("gc"), Metrics: cfg.Metrics}
	}
	reconciler := &bot.Reconciler{Store: deps.Store, Platforms: platforms, Clock: deps.Clock, Config: cfg.Bot,
		PublicURL: cfg.PublicURL, Priority: limits, Logger: log.Named("bot"), Metrics: cfg.Metrics}
	admitter := &bot.Admitter{Store: deps.Store, Platforms: limits, Clock: deps.Clock, Logger: log.Named("admit")}
	m := cfg.Metrics
	river.AddWorker(workers, &ReconcileWorker{Reconciler: reconciler, Store: deps.Store, Metrics: m})
	river.AddWorker(workers, runOnceWorker[AdmitArgs](m, "admit", admitter.RunOnce))
	river.AddWorker(workers, runOnceWorker[ResyncArgs](m, "resync", func(ctx context.Context) (int, error) {
		return deps.Store.EnqueueDue(ctx, deps.Clock.Now(), 10_000)
	}))
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, job *river.Job[ObserveArgs]) error {
		return observed(m, "observer", func() error { return runFor(ctx, observers, job.Args.Platform) })
	}))
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, job *river.Job[GCArgs]) error {
		return observed(m, "gc", func() error { return runFor(ctx, collectors, job.Args.Platform) })
	}))
	if cfg.Pool != nil {
		river.AddWorker(workers, runOnceWorker[PoolSyncArgs](m, "pool", cfg.Pool.RunOnce))
	}
	river.AddWorker(workers, &WebhookWorker{Config: cfg.Webhooks, Events: deps.Store, Clock: deps.Clock, Metrics: m})
	client, err := river.NewClient(riverpgxv5.New(deps.Pool), &river.Config{
		ID: cfg.ReplicaID,
		Queues: map[string]river.QueueConfig{
			QueueReconcile: {MaxWorkers: cfg.ReconcileWorker},
			QueueControl:   {MaxWorkers: 4},
			QueueWebhook:   {MaxWorkers: cfg.Webhooks.Workers},
		},
		Workers:                     workers,
		PeriodicJobs:                periodicJobs(cfg),
		JobTimeout:                  cfg.JobTimeout,
		RescueStuckJobsAfter:        cfg.JobTimeout + 15*time.Second,
		CompletedJobRetentionPeriod: 15 * time.Minute,
		// River's default 100 ms cooldown is also its insert-notification
		// throttle: a job inserted right after another waited for the next
		// poll (webhooks arrived ~300 ms late). 25 ms bounds fetches to 40/s
		// per queue.
		FetchCooldown: 25 * time.Millisecond,
		Logger:        slog.New(slog.NewTextHandler(zap.NewStdLog(log.Named("river")).Writer(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	deps.Enqueuer.SetClient(client)
	return &Manager{client: client, logger: log}, nil
}

// observed runs one pass of controller and counts it.
func observed(m *metrics.Metrics, controller string, pass func() error) error {
	start := time.Now()
	err := pass()
	m.ObserveReconcile(controller, start, err)
	return err
}

// Runner is a background service's single pass.
type Runner interface {
	RunOnce(ctx context.Context) (int, error)
}

func runFor[R Runner](ctx context.Context, services map[string]R, name string) error {
	s, ok := services[name]
	if !ok {
		return fmt.Errorf("controllers: unknown platform %q", name)
	}
	_, err := s.RunOnce(ctx)
	return err
}

// periodicJobs are the leader-only backstops: River enqueues periodic jobs on
// the elected leader only.
func periodicJobs(cfg Config) []*river.PeriodicJob {
	every := func(d time.Duration, args river.JobArgs) *river.PeriodicJob {
		return river.NewPeriodicJob(river.PeriodicInterval(d), func() (river.JobArgs, *river.InsertOpts) {
			return args, nil
		}, &river.PeriodicJobOpts{RunOnStart: true})
	}
	jobs := []*river.PeriodicJob{every(cfg.AdmitInterval, AdmitArgs{}), every(cfg.ResyncInterval, ResyncArgs{})}
	for _, pc := range cfg.Platforms {
		jobs = append(jobs, every(cfg.ObserveInterval, ObserveArgs{Platform: pc.Platform.Name()}),
			every(cfg.GCInterval, GCArgs{Platform: pc.Platform.Name()}))
	}
	if cfg.Pool != nil {
		jobs = append(jobs, every(cfg.PoolSyncInterval, PoolSyncArgs{}))
	}
	return jobs
}

// Start starts working jobs.
func (m *Manager) Start(ctx context.Context) error { return m.client.Start(ctx) }

// Stop stops fetching new jobs and waits for running ones to finish (or ctx).
func (m *Manager) Stop(ctx context.Context) error { return m.client.Stop(ctx) }

// NotifyObserve asks for an observation of platform now (e.g. a local child
// exited), instead of at the next period.
func (m *Manager) NotifyObserve(ctx context.Context, name string) {
	if _, err := m.client.Insert(ctx, ObserveArgs{Platform: name}, nil); err != nil {
		m.logger.Warn("cannot enqueue observe", zap.Error(err))
	}
}

// NotifyPool asks for a pool pass now (a slot was claimed or released).
func (m *Manager) NotifyPool(ctx context.Context) {
	if _, err := m.client.Insert(ctx, PoolSyncArgs{}, nil); err != nil {
		m.logger.Warn("cannot enqueue pool sync", zap.Error(err))
	}
}

// Client returns the River client (for health checks and tests).
func (m *Manager) Client() *river.Client[pgx.Tx] { return m.client }
