// Command sim runs a platform simulator standalone, so the controller (or
// curl) can be pointed at it:
//
//	go run ./hack/sim coolify --addr 127.0.0.1:8000 --token T [--project-uuid …] [--server-uuid …]
//	    [--cold-start 3s] [--warm-start 300ms] [--status-lag 0] [--error-rate 0]
//	    [--bot-command "bin/meeboter-bot --simulate"]
//
// It prints the environment the controller needs (COOLIFY_API_URL,
// COOLIFY_API_TOKEN, COOLIFY_PROJECT_UUID, COOLIFY_SERVER_UUID) on stdout,
// serves until Ctrl-C (SIGINT or SIGTERM), then stops every container and
// exits 0. Started applications run --bot-command with exactly the
// environment set through the API (plus PATH and HOME); its output goes to
// stderr. Without --bot-command a container just runs.
//
// --sim-bots (both simulators) runs every started container as an
// in-process simulated bot (package botsim) instead of a process: one bot
// attempt for a container given BOT_ID (an ECS task), a pool slot for one
// given POOL_SLOT_UUID (a Coolify slot), so a thousand bots need no thousand
// processes. GET /_sim/bots[?ended=1] (same token) lists which bot each
// container plays now, and with ended=1 every meeting that ended, killed
// ones marked: the simulator's own view of what runs where. A crashed or
// vanished container's bot is cut off the network at once, as a killed
// process would be; a stopped one says goodbye.
//
// Faults can be changed while it runs through the /_sim/ endpoints (same
// Bearer token): POST /_sim/knobs {error_rate, storm_429_seconds, fail_lists,
// cold_start_ms, warm_start_ms, status_lag_ms}, POST /_sim/apps/{uuid}/crash
// {exit_code}, POST /_sim/apps/{uuid}/vanish, GET /_sim/apps, GET /_sim/stats.
//
//	go run ./hack/sim ecs --addr 127.0.0.1:8001 --access-key AKID --secret-key SECRET [--region us-east-1]
//	    [--cluster default] [--task-def family[:rev]=container …] [--bot-command "bin/meeboter-bot --simulate"]
//	    [--no-throttle] [--provisioning-delay 200ms] [--pending-delay 500ms] [--stop-delay 300ms]
//	    [--consistency-lag 0] [--error-rate 0]
//
// prints AWS_ENDPOINT_URL_ECS, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_REGION and ECS_CLUSTER instead, for the real AWS SDK. Its control
// endpoints take "Authorization: Bearer <secret key>": POST /_sim/knobs
// {error_rate, throttle_storm_seconds, throttle, capacity_failures,
// capacity_failure_reason, capacity_unavailable_seconds, start_failures, …},
// POST /_sim/tasks/{id}/crash {exit_code}, /vanish, /stop {stop_code,
// reason}, GET /_sim/tasks, GET /_sim/stats.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/meeboter/meeboter/pkg/platform/coolify/coolifysim"
	"github.com/meeboter/meeboter/pkg/platform/ecs/ecssim"
)

const usage = "usage: go run ./hack/sim coolify|ecs [flags]   (coolify -h, ecs -h for their flags)"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the command line args until ctx ends and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	switch args[0] {
	case "coolify":
		return runCoolify(ctx, args[1:], stdout, stderr)
	case "ecs":
		return runECS(ctx, args[1:], stdout, stderr)
	default:
		fmt.Fprintln(stderr, usage)
		return 2
	}
}

func runCoolify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sim coolify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg        coolifysim.Config
		addr       = fs.String("addr", "127.0.0.1:8000", "listen address (port 0: any free port)")
		errorRate  = fs.Float64("error-rate", 0, "fraction of API calls answered 500")
		botCommand = fs.String("bot-command", "", `what a started container runs, split on spaces (e.g. "bin/meeboter-bot --simulate"); empty: nothing`)
		simBotsOn  = fs.Bool("sim-bots", false, "run every container as an in-process simulated bot (pool slot or one bot); GET /_sim/bots lists them")
		verbose    = fs.Bool("v", false, "log what the simulator does to stderr")
	)
	fs.StringVar(&cfg.Token, "token", "", "API token (default: generated)")
	fs.StringVar(&cfg.ProjectUUID, "project-uuid", "", "the project's uuid (default: generated)")
	fs.StringVar(&cfg.ServerUUID, "server-uuid", "", "the server's uuid (default: generated)")
	fs.StringVar(&cfg.EnvironmentName, "environment", "production", "the environment's name")
	fs.DurationVar(&cfg.ColdStart, "cold-start", 3*time.Second, "start latency when the image is not on the server")
	fs.DurationVar(&cfg.WarmStart, "warm-start", 300*time.Millisecond, "start latency when it is")
	fs.DurationVar(&cfg.StatusLag, "status-lag", 0, "how far behind reality GET shows statuses")
	fs.DurationVar(&cfg.DeleteDelay, "delete-delay", 100*time.Millisecond, "delay before an async delete runs")
	fs.DurationVar(&cfg.RestartDelay, "restart-delay", 100*time.Millisecond, "Docker's first restart backoff")
	fs.IntVar(&cfg.ConcurrentBuilds, "concurrent-builds", 2, "deployments in progress at once")
	fs.IntVar(&cfg.DeploymentQueueLimit, "queue-limit", 25, "queued deployments beyond which starts are dropped")
	fs.IntVar(&cfg.RateLimitPerMinute, "rate-limit", 200, "API calls per minute (Coolify's API_RATE_LIMIT; 0: off)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sim coolify: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	zeroMeansZero(&cfg)
	cfg.Logger = simLogger(stderr, *verbose)
	bots, ok := workload(*botCommand, *simBotsOn, cfg.Logger, stderr, "coolify")
	if !ok {
		return 2
	}
	if bots != nil {
		cfg.Workload = bots.workload
	} else if cmd := strings.Fields(*botCommand); len(cmd) > 0 {
		cfg.Workload = coolifysim.ProcessWorkload(cmd, coolifysim.WithOutput(stderr))
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "sim coolify: %v\n", err)
		return 1
	}
	sim := coolifysim.New(cfg)
	sim.SetErrorRate(*errorRate)
	eff := sim.Config()

	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "COOLIFY_API_URL=%s/api/v1\nCOOLIFY_API_TOKEN=%s\nCOOLIFY_PROJECT_UUID=%s\nCOOLIFY_SERVER_UUID=%s\n",
		base, eff.Token, eff.ProjectUUID, eff.ServerUUID)
	fmt.Fprintf(stderr, "coolify simulator on %s (environment %q); control: %s/_sim/; Ctrl-C stops it and every container\n",
		base, eff.EnvironmentName, base)

	return serve(ctx, "coolify", ln, withBots(bots, eff.Token, sim.Handler()), sim.Close, stderr)
}

// zeroMeansZero keeps an explicit 0 on the command line a zero: the Config
// turns zero durations into defaults and negative ones into zero.
func zeroMeansZero(cfg *coolifysim.Config) {
	for _, d := range []*time.Duration{&cfg.ColdStart, &cfg.WarmStart, &cfg.DeleteDelay, &cfg.RestartDelay} {
		if *d == 0 {
			*d = -1
		}
	}
}

func runECS(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sim ecs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg        ecssim.Config
		taskDefs   = taskDefFlag{}
		addr       = fs.String("addr", "127.0.0.1:8001", "listen address (port 0: any free port)")
		clusters   = fs.String("cluster", "default", "cluster names, comma-separated; the first is printed as ECS_CLUSTER")
		errorRate  = fs.Float64("error-rate", 0, "fraction of API calls answered 500 ServerException")
		botCommand = fs.String("bot-command", "", `what a started task's container runs, split on spaces (e.g. "bin/meeboter-bot --simulate"); empty: nothing`)
		simBotsOn  = fs.Bool("sim-bots", false, "run every task as an in-process simulated bot; GET /_sim/bots lists them")
		verbose    = fs.Bool("v", false, "log what the simulator does to stderr")
	)
	fs.StringVar(&cfg.AccessKeyID, "access-key", "", "the AWS access key id requests must be signed with (default: generated)")
	fs.StringVar(&cfg.SecretAccessKey, "secret-key", "", "its secret (default: generated)")
	fs.StringVar(&cfg.Region, "region", "us-east-1", "the region requests must be signed for")
	fs.Var(taskDefs, "task-def", "a task definition family[:revision]=containerName (repeatable; default bot:1=bot)")
	fs.BoolVar(&cfg.NoThrottle, "no-throttle", false, "turn off ECS's request and Fargate launch rate limits")
	fs.DurationVar(&cfg.ProvisioningDelay, "provisioning-delay", 200*time.Millisecond, "time in PROVISIONING")
	fs.DurationVar(&cfg.PendingDelay, "pending-delay", 500*time.Millisecond, "time in PENDING (image pull)")
	fs.DurationVar(&cfg.ActivatingDelay, "activating-delay", 0, "time in ACTIVATING and DEACTIVATING (0: skipped)")
	fs.DurationVar(&cfg.StopDelay, "stop-delay", 300*time.Millisecond, "STOPPING plus DEPROVISIONING after the container stopped")
	fs.DurationVar(&cfg.StopTimeout, "stop-timeout", 30*time.Second, "SIGTERM to SIGKILL on stop")
	fs.DurationVar(&cfg.ConsistencyLag, "consistency-lag", 0, "how long a new task is invisible to DescribeTasks and ListTasks")
	fs.DurationVar(&cfg.StoppedRetention, "stopped-retention", time.Hour, "how long stopped tasks stay describable")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sim ecs: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	for c := range strings.SplitSeq(*clusters, ",") {
		if c = strings.TrimSpace(c); c != "" {
			cfg.Clusters = append(cfg.Clusters, c)
		}
	}
	cfg.TaskDefinitions = taskDefs
	for _, d := range []*time.Duration{&cfg.ProvisioningDelay, &cfg.PendingDelay, &cfg.StopDelay, &cfg.StopTimeout} {
		if *d == 0 {
			*d = -1 // an explicit 0 is a zero, not the default
		}
	}
	cfg.Logger = simLogger(stderr, *verbose)
	bots, ok := workload(*botCommand, *simBotsOn, cfg.Logger, stderr, "ecs")
	if !ok {
		return 2
	}
	if bots != nil {
		cfg.Workload = bots.workload
	} else if cmd := strings.Fields(*botCommand); len(cmd) > 0 {
		cfg.Workload = ecssim.ProcessWorkload(cmd, ecssim.WithOutput(stderr))
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "sim ecs: %v\n", err)
		return 1
	}
	sim := ecssim.New(cfg)
	sim.SetErrorRate(*errorRate)
	eff := sim.Config()

	base := "http://" + ln.Addr().String()
	fmt.Fprintf(stdout, "AWS_ENDPOINT_URL_ECS=%s\nAWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=%s\nAWS_REGION=%s\nECS_CLUSTER=%s\n",
		base, eff.AccessKeyID, eff.SecretAccessKey, eff.Region, eff.Clusters[0])
	var defs []string
	for _, d := range sim.TaskDefinitions() {
		defs = append(defs, fmt.Sprintf("%s:%d (container %s)", d.Family, d.Revision, d.ContainerName))
	}
	fmt.Fprintf(stderr, "ecs simulator on %s: clusters %s, task definitions %s, throttling %v; control: %s/_sim/ "+
		"(Bearer <secret key>); Ctrl-C stops it and every task\n",
		base, strings.Join(eff.Clusters, ", "), strings.Join(defs, ", "), !eff.NoThrottle, base)

	return serve(ctx, "ecs", ln, withBots(bots, eff.SecretAccessKey, sim.Handler()), sim.Close, stderr)
}

// taskDefFlag collects --task-def family[:revision]=containerName.
type taskDefFlag map[string]ecssim.TaskDef

func (f taskDefFlag) String() string {
	var out []string
	for k, d := range f {
		out = append(out, k+"="+d.ContainerName)
	}
	return strings.Join(out, ",")
}

func (f taskDefFlag) Set(v string) error {
	key, container, _ := strings.Cut(v, "=")
	family, _, _ := strings.Cut(key, ":")
	if family == "" {
		return errors.New("want family[:revision]=containerName")
	}
	f[key] = ecssim.TaskDef{ContainerName: container}
	return nil
}

// workload returns the in-process bots when --sim-bots is set; ok is
// false (the usage error printed) when --bot-command is set too.
func workload(botCommand string, simBotsOn bool, log *slog.Logger, stderr io.Writer, name string) (*simBots, bool) {
	switch {
	case !simBotsOn:
		return nil, true
	case strings.TrimSpace(botCommand) != "":
		fmt.Fprintf(stderr, "sim %s: --sim-bots and --bot-command exclude each other\n", name)
		return nil, false
	}
	return newSimBots(log), true
}

// withBots adds GET /_sim/bots to h when bots run in-process.
func withBots(bots *simBots, token string, h http.Handler) http.Handler {
	if bots == nil {
		return h
	}
	return bots.reg.handler(token, h)
}

// simLogger logs warnings, or everything with -v.
func simLogger(stderr io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
}

// serve serves h on ln until ctx ends (Ctrl-C) or serving fails, then shuts
// the server down and stops the simulator (and every container it runs).
func serve(ctx context.Context, name string, ln net.Listener, h http.Handler, stop func(), stderr io.Writer) int {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	code := 0
	select {
	case <-ctx.Done():
	case err := <-served:
		fmt.Fprintf(stderr, "sim %s: %v\n", name, err)
		code = 1
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdown)
	stop()
	return code
}
