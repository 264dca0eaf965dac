package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// The scheduled scenario (issue 11): scheduled bots in waves across a
// Coolify pool and ECS, an ad hoc burst competing for the same capacity,
// and one SIGKILL of the controller shortly before a wave; it measures how
// punctually the scheduled bots entered their meetings. The controller is
// `meeboter serve` as a process (so it can be killed and restarted on the
// same address); the simulators and their bots run in this process.

// schedOptions configure the scenario. Durations are real-world time; the
// run compresses them by scale.
type schedOptions struct {
	enabled                    bool
	scale                      float64
	waves, waveBots, adHoc     int
	call, killBefore, killDown time.Duration
	capacity                   capacity
	meeboter, workDir          string
	keep                       bool
	env                        stringList
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// schedFlags registers the scenario's flags on fs.
func schedFlags(fs *flag.FlagSet) *schedOptions {
	o := &schedOptions{capacity: capacity{AWSBotLimit: 270, PoolMaxSlots: 30, CoolifyBotLimit: 90, ConcurrentBuilds: 10}}
	fs.BoolVar(&o.enabled, "scheduled", true, "run the scheduled scenario after the other parts")
	fs.Float64Var(&o.scale, "sched-scale", 0.1, "time scale: every real-world latency and time of the scenario is multiplied by it")
	fs.IntVar(&o.waves, "sched-waves", 3, "waves of scheduled bots, 10 min (real) apart")
	fs.IntVar(&o.waveBots, "sched-wave-bots", 170, "scheduled bots per wave")
	fs.IntVar(&o.adHoc, "sched-ad-hoc", 510, "ad hoc bots created in one burst before the second wave")
	fs.DurationVar(&o.call, "sched-call", defaultCall, "every bot's call length (real)")
	fs.DurationVar(&o.killBefore, "sched-kill-before", defaultKillLead, "SIGKILL the controller this long (real) before the last wave is due; 0: no kill")
	fs.DurationVar(&o.killDown, "sched-kill-down", 10*time.Second, "how long (real) the killed controller stays down before it is started again")
	fs.IntVar(&o.capacity.AWSBotLimit, "sched-aws-limit", o.capacity.AWSBotLimit, "AWS_BOT_LIMIT")
	fs.IntVar(&o.capacity.PoolMaxSlots, "sched-pool-slots", o.capacity.PoolMaxSlots, "POOL_MAX_SLOTS (per meeting platform; 3 platforms)")
	fs.IntVar(&o.capacity.CoolifyBotLimit, "sched-coolify-limit", o.capacity.CoolifyBotLimit, "COOLIFY_BOT_LIMIT")
	fs.IntVar(&o.capacity.ConcurrentBuilds, "sched-builds", o.capacity.ConcurrentBuilds, "Coolify's concurrent builds, and COOLIFY_MAX_CONCURRENT_DEPLOYS")
	fs.StringVar(&o.meeboter, "sched-meeboter", "", "a prebuilt meeboter binary (default: build ./cmd/meeboter from the working tree)")
	fs.StringVar(&o.workDir, "sched-work-dir", "", "directory for the controller's logs (default: a temporary one, removed unless --sched-keep)")
	fs.BoolVar(&o.keep, "sched-keep", false, "keep the work directory (controller logs)")
	fs.Var(&o.env, "sched-env", "extra controller environment KEY=VALUE, winning over the scenario's (repeatable)")
	return o
}

func (o schedOptions) check() error {
	switch {
	case o.scale <= 0 || o.scale > 1:
		return fmt.Errorf("--sched-scale %g: want 0 < scale ≤ 1", o.scale)
	case o.waves < 1 || o.waveBots < 1:
		return errors.New("--sched-waves and --sched-wave-bots must be at least 1")
	case o.adHoc < 0 || o.call <= 0 || o.killBefore < 0 || o.killDown < 0:
		return errors.New("--sched-ad-hoc, --sched-call, --sched-kill-before and --sched-kill-down must not be negative")
	}
	return checkExtraEnv(o.env)
}

// schedRun is one run of the scenario.
type schedRun struct {
	opts     schedOptions
	plan     plan
	dir      string
	bin      string
	revision string
	dbURL    string
	apiKey   string
	sims     *simWorld
	ctrl     *controller
	api      *userAPI
	db       *pgxpool.Pool
	t0       time.Time
	created  []createResult // by index of plan.Bots
	kill     killRecord
	views    []platformView
	cleanup  []func() // run in reverse by tearDown
}

// runScheduled runs the scenario against a fresh database on the server
// adminURL points at, prints the figures and returns them.
func runScheduled(ctx context.Context, adminURL string, o schedOptions) (*ScheduledResult, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	// Ctrl-C ends the run early, still tearing everything down.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	p, err := makePlan(o)
	if err != nil {
		return nil, err
	}
	r := &schedRun{opts: o, plan: p, created: make([]createResult, len(p.Bots))}
	defer r.tearDown()
	start := time.Now()
	if err := r.bringUp(ctx, adminURL); err != nil {
		return nil, err
	}
	r.play(ctx)
	if err := r.waitFinished(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "scheduled:", err)
	}
	if !r.ctrl.alive() {
		r.opts.keep = true // its log says why
		return nil, fmt.Errorf("scheduled: meeboter serve exited on its own; its log is in %s", r.dir)
	}
	outs, err := collectOutcomes(ctx, r.api, r.plan, r.created, r.sims.joins)
	if err != nil {
		return nil, err
	}
	res := buildResult(r, outs)
	res.WallSeconds = seconds(time.Since(start))
	printResult(os.Stdout, res)
	return &res, nil
}

// bringUp builds and starts everything, in dependency order.
func (r *schedRun) bringUp(ctx context.Context, adminURL string) error {
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"work directory", r.makeWorkDir}, {"meeboter", r.binary},
		{"database", func(ctx context.Context) error { return r.database(ctx, adminURL) }},
		{"simulators and controller", r.startController},
	}
	for _, s := range steps {
		t := time.Now()
		if err := s.fn(ctx); err != nil {
			return fmt.Errorf("scheduled: %s: %w", s.name, err)
		}
		fmt.Fprintf(os.Stderr, "scheduled: %s ready (%s)\n", s.name, time.Since(t).Round(time.Millisecond))
	}
	return nil
}

func (r *schedRun) makeWorkDir(context.Context) error {
	if r.opts.workDir != "" {
		r.dir = r.opts.workDir
		return os.MkdirAll(r.dir, 0o755)
	}
	dir, err := os.MkdirTemp("", "meeboter-bench-scheduled-")
	if err != nil {
		return err
	}
	r.dir = dir
	r.cleanup = append(r.cleanup, func() {
		if r.opts.keep {
			fmt.Fprintf(os.Stderr, "scheduled: logs kept in %s\n", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	return nil
}

func (r *schedRun) binary(ctx context.Context) error {
	r.revision = sourceRevision(ctx)
	if r.opts.meeboter != "" {
		r.bin = r.opts.meeboter
		r.revision = "prebuilt " + r.bin + " (tree at " + r.revision + ")"
		return nil
	}
	var err error
	r.bin, err = buildMeeboter(ctx, filepath.Join(r.dir, "bin"))
	return err
}

func (r *schedRun) database(ctx context.Context, adminURL string) error {
	d, err := newProcessDatabase(ctx, r.bin, adminURL, schedDatabase, &r.cleanup)
	r.dbURL, r.apiKey, r.db = d.url, d.apiKey, d.pool
	return err
}

// startController starts the simulators, then the controller pointed at
// them, and waits until it serves.
func (r *schedRun) startController(ctx context.Context) error {
	r.sims = startSims(r.opts.scale, r.opts.capacity)
	r.cleanup = append(r.cleanup, r.sims.close)
	env := append(controllerEnv(r.opts.scale, r.opts.capacity, r.opts.env), "DATABASE_URL="+r.dbURL)
	env = append(env, r.sims.controllerEnv()...)
	var err error
	r.ctrl, r.api, err = startServe(ctx, r.bin, r.dir, env, r.apiKey, &r.cleanup)
	return err
}

// tearDown undoes bringUp, last step first: the controller is killed
// before the simulators stop their containers (nothing is left to say
// goodbye to), then the database and the work directory go.
func (r *schedRun) tearDown() {
	for i := len(r.cleanup) - 1; i >= 0; i-- {
		r.cleanup[i]()
	}
}
