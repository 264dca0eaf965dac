package main

import (
	"flag"
	"fmt"
	"strconv"
	"time"
)

// options is one run's size, length and switches.
type options struct {
	bots     int           // bots created during the chaos phase
	duration time.Duration // the chaos phase: creating bots, kills, faults
	drain    time.Duration // longest wait for every bot to end after it
	replicas int

	// Kills: a random replica every killMin..killMax; maxKills bounds
	// them (0: as many as fit).
	killMin, killMax time.Duration
	maxKills         int
	// faultWindows is how many fault windows open (0: one of each kind).
	faultWindows int
	// injections aims destructive faults at single workloads (vanish,
	// crash, kill a bot process).
	injections bool
	pgRestart  bool
	pgOutage   time.Duration

	// Bots: call length, how far ahead scheduled bots join.
	callMin, callMax    time.Duration
	joinMin, joinMax    time.Duration
	recoveryP99Limit    time.Duration
	coolifySlots        int // POOL_MAX_SLOTS, per meeting platform
	awsLimit            int
	localLimit          int
	gcInterval, gcGrace time.Duration

	seed    int64
	out     string
	binDir  string // prebuilt meeboter, meeboter-bot and sim; empty: build them
	workDir string // logs and state; empty: a temporary directory
	keep    bool   // keep workDir after a run without violations
	short   bool
}

// defaultOptions is `make chaos`: ≥ 1,000 bots in about nine minutes on
// two cores.
func defaultOptions() options {
	return options{
		bots: 1000, duration: 6 * time.Minute, drain: 135 * time.Second, replicas: 3,
		killMin: 10 * time.Second, killMax: 30 * time.Second,
		injections: true, pgRestart: true, pgOutage: 5 * time.Second,
		callMin: 10 * time.Second, callMax: 30 * time.Second, joinMin: 20 * time.Second, joinMax: 90 * time.Second,
		recoveryP99Limit: 10 * time.Second,
		coolifySlots:     15, awsLimit: 40, localLimit: 12,
		gcInterval: 5 * time.Second, gcGrace: 15 * time.Second,
		out: "chaos.json",
	}
}

// shortOptions is the mode `make test` runs: about 100 bots, two kills,
// one fault window, under two minutes. Its recovery bound is looser
// because it shares the cores with every other test package.
func shortOptions() options {
	o := defaultOptions()
	o.short = true
	o.bots, o.duration, o.drain, o.replicas = 100, 45*time.Second, 75*time.Second, 2
	o.killMin, o.killMax, o.maxKills = 10*time.Second, 18*time.Second, 2
	o.faultWindows, o.injections, o.pgRestart = 1, false, false
	o.callMin, o.callMax, o.joinMin, o.joinMax = 5*time.Second, 15*time.Second, 10*time.Second, 25*time.Second
	o.recoveryP99Limit = 20 * time.Second
	o.coolifySlots, o.awsLimit, o.localLimit = 5, 15, 6
	o.gcInterval, o.gcGrace = 3*time.Second, 6*time.Second
	return o
}

// gcPeriod is one garbage-collection period of the controller.
func (o options) gcPeriod() time.Duration { return o.gcInterval + o.gcGrace }

// leakAfter is how long a workload may outlive its bot's end: one GC
// period, plus time for the observer to see the end and the platform to
// stop it (ECS stop timeout, a bot's goodbye).
func (o options) leakAfter() time.Duration { return o.gcPeriod() + 15*time.Second }

// deployTimeout is the controller's DEPLOY_TIMEOUT; slow pulls last
// longer, so only a deploy deadline that respects progress survives them.
const (
	deployTimeout = 60 * time.Second
	slowPull      = 75 * time.Second
)

// controllerEnv is the configuration every replica shares (besides
// addresses, identity and the platforms' own variables).
func (o options) controllerEnv() []string {
	d := func(v time.Duration) string { return v.String() }
	return []string{
		"LOG_FORMAT=json", "LOG_LEVEL=info",
		"PLATFORM_PRIORITY=coolify,aws,local",
		"RESYNC_INTERVAL=2s", "OBSERVE_INTERVAL=1s", "JOB_TIMEOUT=10s",
		"GC_INTERVAL=" + d(o.gcInterval), "GC_GRACE=" + d(o.gcGrace),
		"BOT_HEARTBEAT_INTERVAL=5s", "HEARTBEAT_TIMEOUT=60s", "DEPLOY_TIMEOUT=" + d(deployTimeout),
		"LEAVE_TIMEOUT=30s", "QUEUE_TIMEOUT=5m", "JOIN_LEAD_TIME=10s", "MAX_ATTEMPTS=3",
		"POOL_MIN_IDLE=1", "POOL_MAX_SLOTS=" + strconv.Itoa(o.coolifySlots), "POOL_SYNC_INTERVAL=1s",
		"COOLIFY_BOT_LIMIT=" + strconv.Itoa(3*o.coolifySlots), "COOLIFY_MAX_CONCURRENT_DEPLOYS=4",
		"COOLIFY_RATE_LIMIT=600",
		"AWS_BOT_LIMIT=" + strconv.Itoa(o.awsLimit), "LOCAL_BOT_LIMIT=" + strconv.Itoa(o.localLimit),
		"ECS_TASK_DEF_ZOOM=bot:1", "ECS_TASK_DEF_MICROSOFT_TEAMS=bot:1", "ECS_TASK_DEF_GOOGLE_MEET=bot:1",
		"ECS_SUBNETS=subnet-1", "AWS_EC2_METADATA_DISABLED=true",
	}
}

// parseOptions reads the command line; --short starts from shortOptions
// and later flags still override it.
func parseOptions(args []string) (options, error) {
	o := defaultOptions()
	for _, a := range args {
		if a == "--short" || a == "-short" || a == "--short=true" || a == "-short=true" {
			o = shortOptions()
		}
	}
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	fs.BoolVar(&o.short, "short", o.short, "the short mode of make test: ~100 bots, 2 kills, one fault window, < 2 min")
	fs.IntVar(&o.bots, "bots", o.bots, "bots to create")
	fs.DurationVar(&o.duration, "duration", o.duration, "length of the chaos phase (creating bots, kills, faults)")
	fs.DurationVar(&o.drain, "drain", o.drain, "longest wait for every bot to end after the chaos phase")
	fs.IntVar(&o.replicas, "replicas", o.replicas, "meeboter serve replicas on one Postgres (2 or more)")
	fs.DurationVar(&o.killMin, "kill-min", o.killMin, "shortest time between replica kills")
	fs.DurationVar(&o.killMax, "kill-max", o.killMax, "longest time between replica kills")
	fs.IntVar(&o.maxKills, "kills", o.maxKills, "at most this many kills (0: as many as fit)")
	fs.IntVar(&o.faultWindows, "fault-windows", o.faultWindows, "fault windows to open (0: one of each kind)")
	fs.BoolVar(&o.injections, "injections", o.injections, "vanish/crash single workloads and kill local bot processes")
	fs.BoolVar(&o.pgRestart, "pg-restart", o.pgRestart, "restart Postgres once, halfway")
	fs.DurationVar(&o.pgOutage, "pg-outage", o.pgOutage, "how long Postgres stays down")
	fs.Int64Var(&o.seed, "seed", o.seed, "random seed (0: from the clock; printed)")
	fs.StringVar(&o.out, "out", o.out, "where to write the JSON report")
	fs.StringVar(&o.binDir, "bin-dir", o.binDir, "directory with prebuilt meeboter, meeboter-bot and sim (default: build them)")
	fs.StringVar(&o.workDir, "work-dir", o.workDir, "directory for logs and state (default: a temporary one)")
	fs.BoolVar(&o.keep, "keep", o.keep, "keep the work directory even when the run passes")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	switch {
	case o.replicas < 2:
		return o, fmt.Errorf("--replicas must be at least 2, got %d", o.replicas)
	case o.bots < 1 || o.duration < 10*time.Second:
		return o, fmt.Errorf("--bots must be positive and --duration at least 10s")
	case o.killMin <= 0 || o.killMax < o.killMin:
		return o, fmt.Errorf("want 0 < --kill-min <= --kill-max")
	}
	if o.seed == 0 {
		o.seed = time.Now().UnixNano()
	}
	return o, nil
}
