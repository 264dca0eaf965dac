// Command bench is `make bench`. It runs in parts, each filling its own
// keys of bench.json (--only <part> runs one and merges its figures into
// an existing file):
//
//   - launch: the whole controller in-process (real Postgres, River, API on
//     loopback) against the ECS simulator with ECS's real request and
//     Fargate launch limits, its tasks running simulated bots in-process.
//     Ten bots created one at a time on the idle controller, then N at
//     once: the time until all are IN_CALL against the bound ECS's launch
//     rate imposes, each bot's due→RunTask time (overhead.go), Postgres
//     statements per in-call bot at steady state (dbqueries.go), then every
//     bot ended and ECS calls counted per bot lifetime. Every status change
//     goes out as a signed webhook to a loopback receiver, which times its
//     delivery; last, a /metrics scrape is timed.
//   - upload: a 500 MB simulated recording through a presigned PUT to a real
//     S3 server (versitygw).
//   - api: creates and heartbeats through the API, each against raw
//     Postgres's rate for the same writes at the same concurrency, measured
//     in alternating rounds of the same run (rawdb.go).
//   - coolify: `meeboter serve` as a process on the Coolify simulator, bots
//     through a warm slot pool: Coolify calls per bot and 429s (coolify.go).
//   - kubernetes: `meeboter serve` as a process on a real kube-apiserver
//     whose test node starts a pod in 2 s: 200 bots at once, create→IN_CALL
//     against one bot alone (kubernetes.go).
//   - scheduled: `meeboter serve` as a process against both simulators,
//     time-scaled: waves of scheduled bots, an ad hoc burst and one SIGKILL
//     of the controller, measuring how punctually scheduled bots enter their
//     meetings (scheduled.go). About four minutes: `make bench` runs it
//     only with SCHEDULED=1 (--scheduled).
//
// The parts run one after another on one Postgres; each is measured alone,
// so run the bench on an otherwise idle machine, and compare ratios (to the
// launch bound, to raw Postgres) rather than rates between machines.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/meeboter/meeboter/hack/devenv/pgcluster"
	"github.com/meeboter/meeboter/pkg/store"
)

// Fargate's launch bucket (tasks, not calls): 100 burst, 20 per second.
const (
	launchBurst = 100
	launchRate  = 20.0
)

// apiCreates is how many bots the API benchmark creates; uploadBytes is the
// size of the recording upload measured.
var (
	apiCreates  int
	uploadBytes int64
	metricsBots int
)

// Result is what the bench measures.
type Result struct {
	Bots                   int            `json:"bots"`
	TimeToAllInCall        float64        `json:"time_to_all_in_call_seconds"`
	LaunchBound            float64        `json:"launch_bound_seconds"`
	RatioToBound           float64        `json:"ratio_to_bound"`
	ECSCalls               map[string]int `json:"ecs_calls"`
	ECSCallsPerBot         float64        `json:"ecs_calls_per_bot"`
	Throttled              int            `json:"ecs_throttled"`
	ECSReads               ECSReadsResult `json:"ecs_reads"`
	CreateAPIPerSecond     float64        `json:"create_api_bots_per_second"`
	TimeToAllDoneAfterStop float64        `json:"time_to_all_done_after_stop_seconds"`
	API                    APIResult      `json:"api"`
	Ratios                 Ratios         `json:"ratios"`
	Webhooks               WebhookResult  `json:"webhooks"`
	RecordingUpload        UploadResult   `json:"recording_upload"`
	Metrics                MetricsResult  `json:"metrics"`
	DB                     DBResult       `json:"db"`
	Overhead               OverheadResult `json:"overhead"`
	// Coolify is the warm-pool scenario (coolify.go).
	Coolify *CoolifyResult `json:"coolify,omitempty"`
	// Kubernetes is `meeboter serve` on a real kube-apiserver (kubernetes.go).
	Kubernetes *KubernetesResult `json:"kubernetes,omitempty"`
	// Scheduled is the scheduled scenario (absent with --scheduled=false).
	Scheduled *ScheduledResult `json:"scheduled,omitempty"`
}

func main() {
	bots := flag.Int("bots", 1000, "bots to run on the ECS simulator")
	flag.IntVar(&apiCreates, "creates", 10000, "bots to create through the API in the API benchmark")
	out := flag.String("out", "bench.json", "where to write the figures")
	flag.Int64Var(&uploadBytes, "upload-bytes", 500_000_000, "size of the simulated recording uploaded through a presigned PUT")
	flag.IntVar(&metricsBots, "metrics-bots", 10_000, "bots added to the database before timing a /metrics scrape")
	only := flag.String("only", "", `run one part alone: launch, upload, api, coolify, kubernetes or scheduled (its figures are merged into --out)`)
	sched := schedFlags(flag.CommandLine)
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		defer stop()
	}
	ps := parts(*bots, *sched)
	i := slices.IndexFunc(ps, func(p part) bool { return p.name == *only })
	var err error
	switch {
	case *only == "":
		err = run(ps, *out)
	case i < 0:
		err = fmt.Errorf("--only %q: the parts are %s", *only, strings.Join(partNames(ps), ", "))
	default:
		err = runOnly(*out, ps[i])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1) //nolint:gocritic // a failed run's profile is not wanted
	}
}

func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// part is one measurement of the bench; keys are the top-level names of
// bench.json it fills.
type part struct {
	name string
	keys []string
	run  func(ctx context.Context, dbURL string, res *Result) error
}

// parts are the bench's measurements, in the order a full run takes them.
func parts(n int, sched schedOptions) []part {
	ps := []part{
		{"launch", []string{"bots", "time_to_all_in_call_seconds", "launch_bound_seconds", "ratio_to_bound", "ecs_calls",
			"ecs_calls_per_bot", "ecs_throttled", "ecs_reads", "create_api_bots_per_second", "time_to_all_done_after_stop_seconds",
			"webhooks", "metrics", "db", "overhead"}, launchPart(n)},
		{"upload", []string{"recording_upload"}, uploadPart},
		{"api", []string{"api", "ratios"}, apiPart},
		{"coolify", []string{"coolify"}, func(ctx context.Context, dbURL string, res *Result) error {
			var err error
			res.Coolify, err = runCoolify(ctx, dbURL)
			return err
		}},
		{"kubernetes", []string{"kubernetes"}, func(ctx context.Context, dbURL string, res *Result) error {
			var err error
			res.Kubernetes, err = runKubernetes(ctx, dbURL)
			return err
		}},
	}
	if sched.enabled {
		ps = append(ps, part{"scheduled", []string{"scheduled"}, func(ctx context.Context, dbURL string, res *Result) error {
			var err error
			res.Scheduled, err = runScheduled(ctx, dbURL, sched)
			return err
		}})
	}
	return ps
}

func partNames(ps []part) []string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.name
	}
	return names
}

// run runs every part on one database and writes all figures to out.
func run(ps []part, out string) error {
	ctx := context.Background()
	dbURL, stop, err := database(ctx)
	if err != nil {
		return err
	}
	defer stop()
	var res Result
	for _, p := range ps {
		if err := p.run(ctx, dbURL, &res); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	fmt.Println(string(b))
	return os.WriteFile(out, append(b, '\n'), 0o644)
}

// runOnly runs one part alone and sets its figures in out, keeping the
// other parts' figures already there. Without an earlier run's file only
// that part's figures are written: zeros for the others would read as
// measurements.
func runOnly(out string, p part) error {
	ctx := context.Background()
	dbURL, stop, err := database(ctx)
	if err != nil {
		return err
	}
	defer stop()
	var res Result
	raw, err := os.ReadFile(out)
	existed := err == nil
	switch {
	case existed:
		if err := json.Unmarshal(raw, &res); err != nil {
			return fmt.Errorf("%s: %w", out, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if err := p.run(ctx, dbURL, &res); err != nil {
		return fmt.Errorf("%s: %w", p.name, err)
	}
	var doc any = res
	if !existed {
		all := map[string]any{}
		b, _ := json.Marshal(res)
		_ = json.Unmarshal(b, &all)
		mine := map[string]any{}
		for _, k := range p.keys {
			mine[k] = all[k]
		}
		doc = mine
	}
	b, _ := json.MarshalIndent(doc, "", "  ")
	return os.WriteFile(out, append(b, '\n'), 0o644)
}

// launchPart runs n bots on the ECS simulator through the whole controller,
// with webhooks, then times a /metrics scrape.
func launchPart(n int) func(ctx context.Context, dbURL string, res *Result) error {
	return func(ctx context.Context, dbURL string, res *Result) error {
		cfg, err := pgxpool.ParseConfig(dbURL)
		if err != nil {
			return err
		}
		queries := newQueryCounter()
		cfg.ConnConfig.Tracer = queries
		store.ConfigurePool(cfg)
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return err
		}
		defer pool.Close()
		if _, err := store.Migrate(ctx, pool); err != nil {
			return err
		}
		h, err := newHarness(ctx, pool, queries, n, zap.NewNop())
		if err != nil {
			return err
		}
		launch, err := h.measure(ctx, n)
		h.close()
		if err != nil {
			return err
		}
		launch.API, launch.Ratios, launch.RecordingUpload = res.API, res.Ratios, res.RecordingUpload
		launch.Coolify, launch.Scheduled = res.Coolify, res.Scheduled
		*res = launch
		fmt.Printf("ECS: %.3f calls per bot lifetime %v, %d throttled; every task stopped %.1f s after the cancels\n",
			res.ECSCallsPerBot, res.ECSCalls, res.Throttled, res.TimeToAllDoneAfterStop)
		res.Webhooks = h.hooks.result()
		fmt.Fprintf(os.Stderr, "webhooks: %d deliveries, delay p50 %.1f ms, p99 %.1f ms\n", res.Webhooks.Deliveries, res.Webhooks.P50ms, res.Webhooks.P99ms)
		if res.Metrics, err = measureMetrics(ctx, pool, metricsBots, h.metrics); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "/metrics with %d bots in the database: %d series, %d bytes, scrape %.1f ms (database read), %.1f ms (cached)\n",
			res.Metrics.Bots, res.Metrics.Series, res.Metrics.Bytes, res.Metrics.ColdScrapeMillis, res.Metrics.WarmScrapeMillis)
		return nil
	}
}

func uploadPart(ctx context.Context, _ string, res *Result) error {
	var err error
	if res.RecordingUpload, err = measureUpload(ctx, uploadBytes); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "recording upload: %d bytes in %.2f s = %.0f MB/s\n", uploadBytes, res.RecordingUpload.Seconds, res.RecordingUpload.MBPerSecond)
	return nil
}

// apiPart is the API and its raw-database reference, on a migrated database.
func apiPart(ctx context.Context, dbURL string, res *Result) error {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return err
	}
	cfg.MaxConns = 40 // as `meeboter serve` sizes its pool; pgxpool's default is 4 here
	store.ConfigurePool(cfg)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := store.Migrate(ctx, pool); err != nil {
		return err
	}
	if res.API, err = measureAPI(ctx, pool, apiCreates, 10*time.Second); err != nil {
		return err
	}
	res.Ratios = res.API.ratios()
	fmt.Fprintf(os.Stderr, "ratios to raw Postgres: creates %.2f, heartbeats %.2f\n", res.Ratios.CreateVsRawDB, res.Ratios.HeartbeatVsRawDB)
	return nil
}

// database uses DATABASE_URL or a throwaway cluster.
func database(ctx context.Context) (string, func(), error) {
	if u := os.Getenv("DATABASE_URL"); u != "" {
		return u, func() {}, nil
	}
	c, err := pgcluster.Start(ctx, pgcluster.Options{})
	if err != nil {
		return "", nil, err
	}
	return c.URL("postgres"), func() { _ = c.Stop() }, nil
}

// launchBound is the least time ECS's Fargate launch bucket allows to start
// n tasks, plus one task's own start-up.
func launchBound(n int, startup time.Duration) time.Duration {
	extra := max(n-launchBurst, 0)
	return time.Duration(float64(extra)/launchRate*float64(time.Second)) + startup
}
