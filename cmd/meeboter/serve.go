package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
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
	"github.com/meeboter/meeboter/pkg/operatorui"
	"github.com/meeboter/meeboter/pkg/recording"
	"github.com/meeboter/meeboter/pkg/store"
	"github.com/meeboter/meeboter/pkg/version"
	"github.com/meeboter/meeboter/pkg/webhook"
)

func newLogger(cfg config.Config, stderr io.Writer) *zap.Logger {
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

func serve(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	doMigrate := fs.Bool("migrate", false, "apply migrations before serving")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.Load(getenv)
	if err == nil {
		err = cfg.RequireDatabase()
	}
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)
	defer log.Sync() //nolint:errcheck // nothing to do about a failed flush at exit
	log.Info("starting meeboter", zap.String("version", version.Version), zap.String("platform", cfg.Platform),
		zap.String("platform_reason", cfg.PlatformReason), zap.String("http_addr", cfg.HTTPAddr))

	poolCfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return errDatabaseURL
	}
	poolCfg.MaxConns = 40
	store.ConfigurePool(poolCfg)
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if *doMigrate {
		res, err := store.Migrate(ctx, pool)
		if err != nil {
			return err
		}
		log.Info("migrated", zap.Ints("river", res.RiverApplied), zap.Strings("meeboter", res.Applied))
	}
	return runServer(ctx, cfg, pool, log)
}

func runServer(ctx context.Context, cfg config.Config, pool *pgxpool.Pool, log *zap.Logger) error {
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

// errDatabaseURL reports an unparsable DATABASE_URL without its value or
// the parser's message, which quotes it: it holds the database password.
var errDatabaseURL = errors.New("DATABASE_URL: cannot parse it as a postgres:// URL or key=value string (the value is not shown: it may hold a password)")

// operatorMux is what METRICS_ADDR serves: /metrics, and the River UI
// when OPERATOR_TOKEN is set.
func operatorMux(ctx context.Context, cfg config.Config, m *controllers.Manager, metricsHandler http.Handler,
	log *zap.Logger) (http.Handler, error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metricsHandler)
	if cfg.Operator.Token == "" {
		return mux, nil
	}
	ui, err := operatorui.New(ctx, operatorui.Config{Token: cfg.Operator.Token, Writable: cfg.Operator.RiverUIWrite,
		View: controllers.OperatorView},
		m.Client(), log.Named("riverui"))
	if err != nil {
		return nil, err
	}
	mux.Handle(operatorui.Prefix+"/", ui)
	return mux, nil
}

// listeners are the API's and the operator's servers (METRICS_ADDR):
// /metrics and the River UI are never on the API port, where every tenant
// could read the whole fleet.
type listeners struct {
	servers []*http.Server
	lns     []net.Listener
	riverUI bool // the operator's listener serves the River UI
}

func listen(cfg config.Config, apiHandler, operatorHandler http.Handler) (*listeners, error) {
	l := &listeners{riverUI: cfg.Operator.Token != ""}
	add := func(name, addr string, h http.Handler) error {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			l.close()
			return fmt.Errorf("%s: %w", name, err)
		}
		l.lns = append(l.lns, ln)
		l.servers = append(l.servers, newHTTPServer(cfg.HTTP, h))
		return nil
	}
	if err := add("HTTP_ADDR", cfg.HTTPAddr, apiHandler); err != nil {
		return nil, err
	}
	if err := add("METRICS_ADDR", cfg.MetricsAddr, operatorHandler); err != nil {
		return nil, err
	}
	return l, nil
}

// newHTTPServer bounds every phase of a connection, so a client that drips
// its request, never reads its response or idles cannot hold a connection.
func newHTTPServer(c config.HTTP, h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: c.ReadHeaderTimeout, ReadTimeout: c.ReadTimeout,
		WriteTimeout: c.WriteTimeout, IdleTimeout: c.IdleTimeout, MaxHeaderBytes: c.MaxHeaderBytes}
}

func (l *listeners) close() {
	for _, ln := range l.lns {
		_ = ln.Close()
	}
}

// serve runs every server until ctx ends or one fails.
func (l *listeners) serve(ctx context.Context, log *zap.Logger) error {
	errs := make(chan error, len(l.servers))
	for i, srv := range l.servers {
		go func() { errs <- srv.Serve(l.lns[i]) }()
	}
	operator := "http://" + l.lns[len(l.lns)-1].Addr().String()
	fields := []zap.Field{zap.String("api", "http://"+l.lns[0].Addr().String()), zap.String("metrics", operator+"/metrics")}
	if l.riverUI {
		fields = append(fields, zap.String("riverui", operator+operatorui.Prefix+"/"))
	}
	log.Info("serving", fields...)
	select {
	case <-ctx.Done():
		return nil
	case err := <-errs:
		return err
	}
}

func (l *listeners) shutdown(ctx context.Context) {
	for _, srv := range l.servers {
		_ = srv.Shutdown(ctx)
	}
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
