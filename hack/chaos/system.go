package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/meeboter/meeboter/hack/devenv/pgcluster"
	"github.com/meeboter/meeboter/hack/devenv/s3server"
	"github.com/meeboter/meeboter/pkg/platform/local"
)

// system is everything a run starts: Postgres, S3, the two simulators,
// the replicas behind the proxy, the webhook receivers.
type system struct {
	dir, logDir, stateDir string
	bins                  binaries

	pgMu   sync.Mutex
	pg     *pgcluster.Cluster
	pgOpts pgcluster.Options
	dbURL  string
	db     *pgxpool.Pool

	s3           *s3server.Server
	coolify, ecs *simProc
	replicas     []*replica
	proxy        *proxy
	hooks        []*hookReceiver
	apiKey       string
	hookSecret   string          // tenant chaos's webhook signing secret
	localView    *local.Platform // the local bot processes, as a controller sees them
	env          []string        // every replica's environment
}

// webhookSecret signs the operator's webhooks (WEBHOOK_URL); callbacks are
// signed with the tenant's secret.
const webhookSecret = "chaos-webhook-secret-0123456789abcdef"

// bringUp starts the system in dependency order.
func (c *chaos) bringUp(ctx context.Context) error {
	s := c.sys
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"directories", s.makeDirs}, {"binaries", c.binaries}, {"postgres", s.startPostgres},
		{"migrate", s.migrate}, {"api key", s.createAPIKey}, {"s3", s.startS3},
		{"webhook receivers", s.startHooks}, {"simulators", s.startSims}, {"replicas", c.startReplicas},
	}
	for _, st := range steps {
		start := time.Now()
		if err := st.fn(ctx); err != nil {
			return fmt.Errorf("%s: %w", st.name, err)
		}
		c.logf("up: %s (%s)", st.name, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

func (s *system) makeDirs(context.Context) error {
	s.logDir, s.stateDir = filepath.Join(s.dir, "logs"), filepath.Join(s.dir, "local")
	for _, d := range []string{s.logDir, s.stateDir, filepath.Join(s.dir, "s3")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	view, err := local.New(local.Config{StateDir: s.stateDir, Command: []string{"true"}})
	s.localView = view
	return err
}

func (c *chaos) binaries(ctx context.Context) error {
	if c.opts.binDir != "" {
		c.sys.bins = binariesIn(c.opts.binDir)
		return nil
	}
	dir := filepath.Join(c.sys.dir, "bin")
	var err error
	c.sys.bins, err = buildBinaries(ctx, dir)
	return err
}

func (s *system) startPostgres(ctx context.Context) error {
	log, err := os.OpenFile(filepath.Join(s.logDir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	// Kept data and, after the first start, a fixed port: a restart is the
	// same server coming back where the replicas expect it.
	s.pgOpts = pgcluster.Options{DataDir: filepath.Join(s.dir, "pg"), Keep: true, Log: log}
	pg, err := pgcluster.Start(ctx, s.pgOpts)
	if err != nil {
		return err
	}
	s.pg, s.pgOpts.Port, s.dbURL = pg, pg.Port(), pg.URL("postgres")
	cfg, err := pgxpool.ParseConfig(s.dbURL)
	if err != nil {
		return err
	}
	cfg.MaxConns = 4
	s.db, err = pgxpool.NewWithConfig(ctx, cfg)
	return err
}

// meeboter runs a meeboter command against the database.
func (s *system) meeboter(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, s.bins.meeboter, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "DATABASE_URL=" + s.dbURL}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("meeboter %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func (s *system) migrate(ctx context.Context) error {
	_, err := s.meeboter(ctx, "migrate")
	return err
}

func (s *system) createAPIKey(ctx context.Context) error {
	out, err := s.meeboter(ctx, "apikey", "create", "--owner", "chaos", "--name", "chaos")
	if err != nil {
		return err
	}
	for line := range strings.SplitSeq(out, "\n") {
		if k, ok := strings.CutPrefix(strings.TrimSpace(line), "key: "); ok {
			s.apiKey = k
		}
		if k, ok := strings.CutPrefix(strings.TrimSpace(line), "webhook secret: "); ok {
			s.hookSecret = k
		}
	}
	if s.apiKey == "" || s.hookSecret == "" {
		return fmt.Errorf("no key or webhook secret in the output of apikey create (%d bytes)", len(out))
	}
	return nil
}

func (s *system) startS3(ctx context.Context) error {
	log, err := os.OpenFile(filepath.Join(s.logDir, "s3.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	s.s3, err = s3server.Start(ctx, s3server.Config{Dir: filepath.Join(s.dir, "s3"), Log: log})
	return err
}

func (s *system) startHooks(context.Context) error {
	for range 2 {
		h, err := startHookReceiver([]byte(s.hookSecret))
		if err != nil {
			return err
		}
		s.hooks = append(s.hooks, h)
	}
	return nil
}

func (s *system) startSims(ctx context.Context) error {
	var err error
	if s.coolify, err = startSim(ctx, s.bins.sim, "coolify", s.logDir); err != nil {
		return err
	}
	s.ecs, err = startSim(ctx, s.bins.sim, "ecs", s.logDir)
	return err
}

// startReplicas starts every replica behind the proxy and waits until all
// are ready and one leads.
func (c *chaos) startReplicas(ctx context.Context) error {
	s := c.sys
	for i := range c.opts.replicas {
		r, err := newReplica(i, s.logDir)
		if err != nil {
			return err
		}
		s.replicas = append(s.replicas, r)
	}
	var err error
	if s.proxy, err = startProxy(s.replicas, c.witness); err != nil {
		return err
	}
	s.env = c.replicaEnv()
	for _, r := range s.replicas {
		if err := c.launch(r); err != nil {
			return err
		}
	}
	for _, r := range s.replicas {
		if err := r.ready(ctx); err != nil {
			return err
		}
	}
	return nil
}

// replicaEnv is the environment every replica shares.
func (c *chaos) replicaEnv() []string {
	s := c.sys
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "TMPDIR=" + os.TempDir(),
		"DATABASE_URL=" + s.dbURL, "PUBLIC_URL=" + s.proxy.url, "LOCAL_STATE_DIR=" + s.stateDir,
		"BOT_COMMAND=" + s.bins.bot + " --simulate",
		"S3_ENDPOINT=" + s.s3.Endpoint(), "S3_ACCESS_KEY=" + s.s3.AccessKey(), "S3_SECRET_KEY=" + s.s3.SecretKey(),
		"S3_REGION=" + s.s3.Region(), "WEBHOOK_SECRET=" + webhookSecret, "CALLBACK_ALLOW=127.0.0.0/8",
	}
	env = append(env, c.opts.controllerEnv()...)
	env = append(env, s.coolify.controllerEnv()...)
	return append(env, s.ecs.controllerEnv()...)
}

// restartPostgres stops the server (a fast shutdown: every session is cut)
// and starts it again on the same data and port after outage.
func (s *system) restartPostgres(ctx context.Context, outage time.Duration) (down, up time.Time, err error) {
	s.pgMu.Lock()
	defer s.pgMu.Unlock()
	down = time.Now()
	if err := s.pg.Stop(); err != nil {
		return down, time.Time{}, err
	}
	sleepCtx(ctx, outage)
	pg, err := pgcluster.Start(context.WithoutCancel(ctx), s.pgOpts)
	if err != nil {
		return down, time.Time{}, err
	}
	s.pg = pg
	return down, time.Now(), nil
}

// tearDown stops everything the run started, bot processes included. It
// kills rather than stops: nothing of a run is worth a graceful goodbye.
func (s *system) tearDown() {
	if s.proxy != nil {
		s.proxy.close()
	}
	for _, r := range s.replicas {
		if _, p := r.current(); p != nil {
			r.kill()
		}
	}
	s.killLocalBots()
	for _, sim := range []*simProc{s.coolify, s.ecs} {
		if sim != nil {
			sim.child.kill()
		}
	}
	for _, h := range s.hooks {
		h.close()
	}
	if s.s3 != nil {
		_ = s.s3.Stop()
	}
	if s.db != nil {
		s.db.Close()
	}
	s.pgMu.Lock()
	if s.pg != nil {
		_ = s.pg.Stop()
	}
	s.pgMu.Unlock()
}

// killLocalBots SIGKILLs the process group of every local bot still
// running: they outlive the replicas on purpose.
func (s *system) killLocalBots() {
	if s.localView == nil {
		return
	}
	listed, _ := s.localView.List(context.Background())
	for _, l := range listed {
		var pid int
		if _, err := fmt.Sscan(l.ExternalID, &pid); err == nil && pid > 0 {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	}
}
