package controllers

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
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
	"github.com/meeboter/meeboter/pkg/clock"
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
	// ObserveFreshness bounds the reads of an observer of a platform that
	// can describe workloads by id (ECS); zero fields take the observer's
	// defaults (30 s of silence, 5 min of staleness).
	ObserveFreshness observer.Freshness
	GCInterval       time.Duration // default 1 min
	GCGrace          time.Duration // default 30 s
	JobTimeout       time.Duration // default 30 s
	// SweepInterval is how often the leader requeues the running jobs of
	// replicas that ended (default 1 s).
	SweepInterval time.Duration
	// Pool, when set, is the Coolify slot pool, run every PoolSyncInterval
	// (default 5 s), when its NextPass is due, and whenever a slot is
	// claimed or released.
	Pool             PoolRunner
	PoolSyncInterval time.Duration
	Webhooks         WebhookConfig
	// Leader configures the election.
	Leader LeaderConfig
	// Metrics instruments every controller; nil records nothing.
	Metrics *metrics.Metrics
	// ReplicaID names this replica (default: the host name); its River
	// client and database session are named ClientID(ReplicaID).
	ReplicaID string
	// LeadTime is how long before its join_at a scheduled bot is admitted
	// (nil: Bot.JoinLeadTime).
	LeadTime func(ctx context.Context, b store.Bot) time.Duration
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
	c.GCInterval = cmp.Or(c.GCInterval, time.Minute)
	c.GCGrace = cmp.Or(c.GCGrace, 30*time.Second)
	c.JobTimeout = cmp.Or(c.JobTimeout, 30*time.Second)
	c.SweepInterval = cmp.Or(c.SweepInterval, time.Second)
	c.PoolSyncInterval = cmp.Or(c.PoolSyncInterval, 5*time.Second)
	if c.ReplicaID == "" {
		c.ReplicaID, _ = os.Hostname()
		c.ReplicaID = cmp.Or(c.ReplicaID, "meeboter")
	}
	if c.Webhooks.Sender == nil {
		c.Webhooks.Sender = &webhook.Sender{}
	}
	c.Webhooks.Sender.Timeout = cmp.Or(c.Webhooks.Sender.Timeout, webhook.DefaultTimeout)
	c.Webhooks.Window = cmp.Or(c.Webhooks.Window, webhook.DefaultWindow)
	c.Webhooks.RetryBase = cmp.Or(c.Webhooks.RetryBase, webhook.DefaultBackoffBase)
	c.Webhooks.Workers = cmp.Or(c.Webhooks.Workers, 200)
	c.Webhooks.SecretTTL = cmp.Or(c.Webhooks.SecretTTL, 10*time.Second)
	if c.Webhooks.Gate == nil {
		c.Webhooks.Gate = DefaultGate(c.Webhooks.Workers)
	}
	c.Bot.MissingGrace = cmp.Or(c.Bot.MissingGrace, 10*time.Second)
	c.Bot.MaxCreateErrors = cmp.Or(c.Bot.MaxCreateErrors, 5)
	c.Bot.StopRecheck = cmp.Or(c.Bot.StopRecheck, time.Minute)
}

// NewInsertClient returns a River client with no workers, that inserts and
// manages jobs: the API's Enqueuer, the CLI, the bench and tests use it.
// Its insert-notification throttle is the working client's (FetchCooldown).
func NewInsertClient(pool *pgxpool.Pool) (*river.Client[pgx.Tx], error) {
	return river.NewClient(riverpgxv5.New(pool), &river.Config{FetchCooldown: fetchCooldown})
}

// Enqueuer implements store.Enqueuer on an insert-only River client
// (NewInsertClient): it exists before the workers, so the store can be
// built before the controllers that use it.
type Enqueuer struct {
	client *river.Client[pgx.Tx]
	// Webhooks is set before the Enqueuer is used.
	Webhooks WebhookTargets
	// FetchCooldown is the workers' client's; within it of the last insert
	// into a queue, an insert notifies the queue itself.
	FetchCooldown time.Duration
	notified      insertNotifier
}

// NewEnqueuer returns an Enqueuer inserting with client.
func NewEnqueuer(client *river.Client[pgx.Tx]) *Enqueuer {
	return &Enqueuer{client: client, FetchCooldown: fetchCooldown}
}

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
	if _, err := e.client.InsertManyTx(ctx, tx, params); err != nil {
		return err
	}
	return e.notified.afterInsertTx(ctx, tx, QueueReconcile, e.FetchCooldown)
}

// Manager owns the River client, the replica's database session and the
// leader election, and the controllers they run.
type Manager struct {
	client   *river.Client[pgx.Tx]
	session  *store.Session
	elector  *Elector
	logger   *zap.Logger
	clientID string

	stopLeading, closeSession context.CancelFunc
	leading, sessionDone      sync.WaitGroup
}

// Deps are the manager's collaborators.
type Deps struct {
	Pool   *pgxpool.Pool
	Store  *store.Store
	Clock  clock.Clock
	Logger *zap.Logger
}

// New builds the River client (reconcile and webhook workers), the session
// and the elector with every leader-only loop.
func New(cfg Config, deps Deps) (*Manager, error) {
	cfg.defaults()
	if len(cfg.Platforms) == 0 {
		return nil, errors.New("controllers: no platform configured")
	}
	log := deps.Logger
	m := &Manager{logger: log, clientID: ClientID(cfg.ReplicaID)}
	session, err := store.NewSession(store.SessionConfig{Conn: deps.Pool.Config().ConnConfig, Identity: m.clientID,
		OnError: func(err error) { log.Warn("database session", zap.Error(err)) }})
	if err != nil {
		return nil, err
	}
	m.session = session
	platforms := map[string]platform.Platform{}
	var limits []bot.PlatformLimit
	for _, pc := range cfg.Platforms {
		platforms[pc.Platform.Name()] = pc.Platform
		limits = append(limits, bot.PlatformLimit{Platform: pc.Platform.Name(), Limit: pc.Limit,
			Lifetime: cfg.Bot.MaxBotLifetime + cfg.Bot.LeaveTimeout})
	}
	reconciler := &bot.Reconciler{Store: deps.Store, Platforms: platforms, Clock: deps.Clock, Config: cfg.Bot,
		PublicURL: cfg.PublicURL, Priority: limits, Logger: log.Named("bot"), Metrics: cfg.Metrics, LeadTime: cfg.LeadTime}
	workers := river.NewWorkers()
	river.AddWorker(workers, &ReconcileWorker{Reconciler: reconciler, Store: deps.Store, Locks: session, Metrics: cfg.Metrics})
	river.AddWorker(workers, &WebhookWorker{Config: cfg.Webhooks, Store: deps.Store, Clock: deps.Clock, Metrics: cfg.Metrics,
		Logger: deps.Logger.Named("webhook")})
	m.client, err = river.NewClient(riverpgxv5.New(deps.Pool), &river.Config{
		ID: m.clientID,
		Queues: map[string]river.QueueConfig{
			QueueReconcile: {MaxWorkers: cfg.ReconcileWorker},
			QueueWebhook:   {MaxWorkers: cfg.Webhooks.Workers},
		},
		Workers:    workers,
		JobTimeout: cfg.JobTimeout,
		// The leader's sweeper frees a dead replica's jobs within seconds;
		// River's rescuer stays as the last backstop.
		RescueStuckJobsAfter:        cfg.JobTimeout + 15*time.Second,
		CompletedJobRetentionPeriod: 15 * time.Minute,
		// The cooldown bounds fetches to 40/s per queue; it is also River's
		// insert-notification throttle (NewInsertClient's too), whose
		// gaps the Enqueuer fills
		// (insertnotify.go).
		FetchCooldown: fetchCooldown,
		Logger:        slog.New(slog.NewTextHandler(zap.NewStdLog(log.Named("river")).Writer(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return nil, fmt.Errorf("river client: %w", err)
	}
	connCfg := deps.Pool.Config().ConnConfig
	m.elector = &Elector{Config: cfg.Leader, Locks: session, Loops: leaderLoops(cfg, deps, limits), Metrics: cfg.Metrics,
		Logger: log.Named("leader"),
		Listen: func(ctx context.Context, fn func(string)) error { return store.Listen(ctx, connCfg, fn) }}
	return m, nil
}

// leaderLoops are the controllers only the leader runs: admission, the
// resync backstop, each platform's observer and garbage collector, the pool,
// and the sweeper of dead replicas' jobs.
func leaderLoops(cfg Config, deps Deps, limits []bot.PlatformLimit) []*Loop {
	log := deps.Logger
	admitter := &bot.Admitter{Store: deps.Store, Platforms: limits, Clock: deps.Clock, Logger: log.Named("admit")}
	sweeper := &JobSweeper{Store: deps.Store, Clock: deps.Clock, Logger: log.Named("sweep")}
	loops := []*Loop{
		NewLoop("admit", store.WakeAdmit, cfg.AdmitInterval, pass(admitter.RunOnce)),
		resyncLoop(cfg, deps),
		NewLoop("sweep", "", cfg.SweepInterval, pass(sweeper.RunOnce)),
	}
	for _, pc := range cfg.Platforms {
		name := pc.Platform.Name()
		o := &observer.Observer{Store: deps.Store, Platform: pc.Platform, Clock: deps.Clock,
			CreateGrace: cfg.Bot.MissingGrace, ProgressRefresh: cmp.Or(cfg.Bot.DeployTimeout/4, 30*time.Second),
			Freshness: cfg.ObserveFreshness, Logger: log.Named("observer")}
		c := &gc.Collector{Store: deps.Store, Platform: pc.Platform, Clock: deps.Clock,
			Grace: cfg.GCGrace, Logger: log.Named("gc"), Metrics: cfg.Metrics}
		loops = append(loops, NewLoop("observer", store.WakeObserve(name), cfg.ObserveInterval, pass(o.RunOnce)),
			NewLoop("gc", "", cfg.GCInterval, pass(c.RunOnce)))
	}
	if cfg.Pool != nil {
		l := NewLoop("pool", store.WakePool, cfg.PoolSyncInterval, pass(cfg.Pool.RunOnce))
		l.Next = cfg.Pool.NextPass
		loops = append(loops, l)
	}
	return loops
}

// resyncLoop queues the scheduled bots whose admission time has come and
// enqueues the bots whose next check is due, every ResyncInterval and at
// the next scheduled bot's admission time when sooner: it is admitted at
// its time, not up to an interval later.
func resyncLoop(cfg Config, deps Deps) *Loop {
	var next time.Duration
	l := NewLoop("resync", "", cfg.ResyncInterval, func(ctx context.Context) error {
		now := deps.Clock.Now()
		if _, err := deps.Store.QueueDueScheduled(ctx, now, leadsOf(ctx, cfg), 10_000); err != nil {
			return err
		}
		if _, err := deps.Store.EnqueueDue(ctx, now, 10_000); err != nil {
			return err
		}
		at, ok, err := deps.Store.NextScheduledCheck(ctx, now)
		next = cfg.ResyncInterval
		if ok {
			next = at.Sub(now)
		}
		return err
	})
	l.Next = func() time.Duration { return next }
	return l
}

// leadsOf is every platform's lead for a scheduled bot reserved there, and
// the lead of one reserved nowhere, as the reconciler computes them.
func leadsOf(ctx context.Context, cfg Config) store.Leads {
	lead := func(b store.Bot) time.Duration {
		if cfg.LeadTime == nil {
			return cfg.Bot.JoinLeadTime
		}
		return max(cfg.Bot.JoinLeadTime, cfg.LeadTime(ctx, b))
	}
	leads := store.Leads{Reserved: map[string]time.Duration{}, Unreserved: lead(store.Bot{Status: store.StatusScheduled})}
	for _, pc := range cfg.Platforms {
		name := pc.Platform.Name()
		leads.Reserved[name] = lead(store.Bot{Status: store.StatusScheduled, ReservedPlatform: &name})
	}
	return leads
}

// pass adapts a service's RunOnce to a loop.
func pass(run func(context.Context) (int, error)) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := run(ctx)
		return err
	}
}

// Runner is a background service's single pass.
type Runner interface {
	RunOnce(ctx context.Context) (int, error)
}

// PoolRunner is the pool controller: a pass, and how soon the next one is
// due.
type PoolRunner interface {
	Runner
	NextPass() time.Duration
}

// Start connects the session (its identity must be held before any job is
// worked, so the sweeper can tell this replica is alive), then starts
// working jobs and contending for the leadership.
func (m *Manager) Start(ctx context.Context) error {
	sessionCtx, closeSession := context.WithCancel(context.WithoutCancel(ctx))
	m.closeSession = closeSession
	m.sessionDone.Go(func() { m.session.Run(sessionCtx) })
	select {
	case <-m.session.Ready():
	case <-ctx.Done():
		closeSession()
		return ctx.Err()
	}
	if err := m.client.Start(ctx); err != nil {
		closeSession()
		return err
	}
	leaderCtx, stopLeading := context.WithCancel(sessionCtx)
	m.stopLeading = stopLeading
	m.leading.Go(func() { m.elector.Start(leaderCtx) })
	m.logger.Info("controller started", zap.String("client_id", m.clientID))
	return nil
}

// Stop hands the leadership on, stops fetching jobs and waits for running
// ones to finish (or ctx), then closes the session, releasing its locks.
func (m *Manager) Stop(ctx context.Context) error {
	if m.stopLeading != nil {
		m.stopLeading()
		m.leading.Wait()
	}
	err := m.client.Stop(ctx)
	if m.closeSession != nil {
		m.closeSession()
		m.sessionDone.Wait()
	}
	return err
}

// Leading reports whether this replica leads now.
func (m *Manager) Leading() bool { return m.elector.Leading() }

// ClientID is this run's River client ID and session identity.
func (m *Manager) ClientID() string { return m.clientID }

// Client returns the River client (for health checks and tests).
func (m *Manager) Client() *river.Client[pgx.Tx] { return m.client }
