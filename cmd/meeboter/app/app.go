package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/meeboter/meeboter/controllers"
	"github.com/meeboter/meeboter/controllers/bot"
	"github.com/meeboter/meeboter/controllers/observer"
	"github.com/meeboter/meeboter/pkg/api"
	"github.com/meeboter/meeboter/pkg/clock"
	"github.com/meeboter/meeboter/pkg/config"
	"github.com/meeboter/meeboter/pkg/metrics"
	"github.com/meeboter/meeboter/pkg/recording"
	"github.com/meeboter/meeboter/pkg/store"
	"github.com/meeboter/meeboter/pkg/webhook"
)

// NewLogger is the process's logger: JSON, or LOG_FORMAT=console for people.
func NewLogger(cfg config.Config, stderr io.Writer) *zap.Logger {
	level, _ := zapcore.ParseLevel(cfg.LogLevel)
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	enc := zapcore.NewJSONEncoder(encCfg)
	if cfg.LogFormat == "console" {
		encCfg = zap.NewDevelopmentEncoderConfig()
		encCfg.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
		enc = zapcore.NewConsoleEncoder(encCfg)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.AddSync(stderr), level))
}

// OpenDatabase is a pool of at most maxConns connections to DATABASE_URL;
// it connects lazily, so a database that starts after us is no error here.
func OpenDatabase(ctx context.Context, cfg config.Config, maxConns int) (*pgxpool.Pool, error) {
	poolCfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, ErrDatabaseURL
	}
	poolCfg.MaxConns = int32(min(maxConns, math.MaxInt32)) //nolint:gosec // bounded just above
	store.ConfigurePool(poolCfg)
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return nil, ErrDatabaseURL
	}
	return pool, nil
}

// ErrDatabaseURL reports an unparsable DATABASE_URL without its value or
// the parser's message, which quotes it: it holds the database password.
var ErrDatabaseURL = errors.New("DATABASE_URL: cannot parse it as a postgres:// URL or key=value string (the value is not shown: it may hold a password)")

// Run builds everything `meeboter serve` runs from cfg, on pool, and runs
// it until ctx ends: the API and operator listeners, and the controllers.
func Run(ctx context.Context, cfg config.Config, pool *pgxpool.Pool, log *zap.Logger) error {
	inserter, err := controllers.NewInsertClient(pool)
	if err != nil {
		return err
	}
	enq := controllers.NewEnqueuer(inserter)
	enq.Webhooks = controllers.WebhookTargets{URL: cfg.Webhooks.URL, Render: api.RenderBot}
	recordings, err := openRecordings(ctx, cfg.S3, log)
	if err != nil {
		return err
	}
	st := store.New(pool, enq)
	met := metrics.New(metrics.Options{State: st, StateTTL: cfg.MetricsCacheTTL, Platforms: cfg.Platforms})
	plats, err := buildPlatforms(ctx, cfg, st, log, met)
	if err != nil {
		return err
	}
	leads := newLeadTimes(cfg, st, plats)
	mcfg := managerConfig(cfg, plats)
	mcfg.Metrics, mcfg.LeadTime = met, leads.forBot
	m, err := controllers.New(mcfg, controllers.Deps{Pool: pool, Store: st, Clock: clock.Wall{}, Logger: log})
	if err != nil {
		return err
	}
	met.SetLeading(m.Leading)
	apiServer := &api.Server{Store: st, Clock: clock.Wall{}, Logger: log.Named("api"), Recordings: recordings, Metrics: met,
		Config: api.Config{MaxBotLifetime: cfg.MaxBotLifetime, BotHeartbeatInterval: cfg.BotHeartbeatInterval,
			PoolPlatform: plats.poolPlatform, Platforms: plats.limits(), LeaveTimeout: cfg.LeaveTimeout,
			ReserveAhead: cfg.ReserveAhead, Callbacks: cfg.Webhooks.CallbackAllow,
			TenantDefaults: store.Limits{RatePerSecond: cfg.Tenants.RatePerSecond, RateBurst: cfg.Tenants.RateBurst,
				MaxBots: cfg.Tenants.MaxBots}},
		LeadTimes: leads,
		Ready:     func(ctx context.Context) error { return ready(ctx, m, pool) }}
	metricsHandler := promhttp.HandlerFor(met.Registry, promhttp.HandlerOpts{ErrorLog: zap.NewStdLog(log.Named("metrics"))})
	operator, err := operatorMux(ctx, cfg, m, metricsHandler, log)
	if err != nil {
		return err
	}
	servers, err := listen(cfg, apiServer.Handler(), operator)
	if err != nil {
		return err
	}
	if err := m.Start(ctx); err != nil {
		return fmt.Errorf("start controller: %w", err)
	}
	err = servers.serve(ctx, log.With(zap.String("public_url", cfg.PublicURL)))
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	servers.shutdown(shutdownCtx)
	if stopErr := m.Stop(shutdownCtx); stopErr != nil {
		log.Warn("controller stop", zap.Error(stopErr))
	}
	return err
}

// ready is /readyz: the database answers and River is running.
func ready(ctx context.Context, m *controllers.Manager, pool *pgxpool.Pool) error {
	select {
	case <-m.Client().Stopped():
		return errors.New("the controller (River) is not running")
	default:
	}
	return pool.Ping(ctx)
}

func managerConfig(cfg config.Config, plats platforms) controllers.Config {
	return controllers.Config{
		Bot: bot.Config{HeartbeatTimeout: cfg.HeartbeatTimeout, DeployTimeout: cfg.DeployTimeout,
			LeaveTimeout: cfg.LeaveTimeout, MaxBotLifetime: cfg.MaxBotLifetime, QueueTimeout: cfg.QueueTimeout,
			JoinLeadTime: cfg.JoinLeadTime, MaxAttempts: cfg.MaxAttempts,
			// A bot beating when its workload is seen exited has one and a
			// half beats to prove the platform's status stale.
			ExitConfirm: cfg.BotHeartbeatInterval * 3 / 2},
		PublicURL:        cfg.PublicURL,
		Platforms:        plats.list,
		Pool:             plats.pool,
		PoolSyncInterval: cfg.Coolify.PoolSyncInterval,
		ResyncInterval:   cfg.ResyncInterval,
		ObserveInterval:  cfg.ObserveInterval,
		ObserveFreshness: observer.Freshness{Silence: cfg.ObserveSilence, MaxStaleness: cfg.ObserveMaxStaleness},
		GCInterval:       cfg.GCInterval,
		GCGrace:          cfg.GCGrace,
		JobTimeout:       cfg.JobTimeout,
		ReplicaID:        cfg.ReplicaID,
		Webhooks: controllers.WebhookConfig{
			Sender: &webhook.Sender{Secret: []byte(cfg.Webhooks.Secret), Timeout: cfg.Webhooks.Timeout,
				Destinations: cfg.Webhooks.CallbackAllow},
			Operator: &webhook.Sender{Secret: []byte(cfg.Webhooks.Secret), Timeout: cfg.Webhooks.Timeout,
				Destinations: webhook.Anywhere},
			Window: cfg.Webhooks.RetryWindow, RetryBase: cfg.Webhooks.RetryBase, Workers: cfg.Webhooks.Workers,
			Gate: webhookGate(cfg.Webhooks),
		},
	}
}

// openRecordings connects the recordings bucket, creating it if missing. S3
// may start after us (a compose file, say), so it is retried for a while.
// Without S3_ENDPOINT there is none: bots that record are refused.
func openRecordings(ctx context.Context, cfg config.S3, log *zap.Logger) (api.Recordings, error) {
	if !cfg.Configured() {
		log.Info("recordings are off: S3_ENDPOINT is not set")
		return nil, nil
	}
	s, err := recording.New(cfg)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err = s.EnsureBucket(ctx)
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		log.Warn("S3 not ready; retrying", zap.Error(err))
		time.Sleep(time.Second)
	}
	if err != nil {
		return nil, err
	}
	log.Info("recordings", zap.String("bucket", s.Bucket()), zap.Int("retention_days", cfg.RetentionDays))
	return s, nil
}

// webhookGate is the webhook queue's gate from the configuration.
func webhookGate(c config.Webhooks) *webhook.Gate {
	g := controllers.DefaultGate(c.Workers)
	if c.TenantConcurrency > 0 {
		g.PerTenant = c.TenantConcurrency
	}
	g.BreakAfter, g.Cooldown = c.BreakerFailures, c.BreakerCooldown
	g.MaxCooldown = max(g.MaxCooldown, c.BreakerCooldown)
	return g
}
