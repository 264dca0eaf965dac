// Command bench is `make bench`: a load generator that runs the whole
// controller in-process (real Postgres, River, API on loopback) against the
// ECS simulator with ECS's real request and Fargate launch limits, its tasks
// running simulated bots in-process. It creates N bots at once, measures the
// time until all are IN_CALL against the bound ECS's launch rate imposes,
// then ends them and counts ECS API calls per bot lifetime. Every status
// change goes out as a signed webhook to a loopback receiver, which times
// its delivery. Last, it uploads a 500 MB simulated recording through a
// presigned PUT to a real S3 server (versitygw). It prints the figures and
// writes them to a JSON file. Then the scheduled scenario (scheduled.go)
// runs `meeboter serve` as a process against both simulators, time-scaled:
// waves of scheduled bots, an ad hoc burst and one SIGKILL of the
// controller, measuring how punctually scheduled bots enter their meetings.
// --only scheduled runs that part alone and merges its figures into the
// JSON file.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/meeboter/meeboter/pkg/pgcluster"
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
	CreateAPIPerSecond     float64        `json:"create_api_bots_per_second"`
	TimeToAllDoneAfterStop float64        `json:"time_to_all_done_after_stop_seconds"`
	API                    APIResult      `json:"api"`
	Webhooks               WebhookResult  `json:"webhooks"`
	RecordingUpload        UploadResult   `json:"recording_upload"`
	Metrics                MetricsResult  `json:"metrics"`
	// Scheduled is the scheduled scenario (absent with --scheduled=false).
	Scheduled *ScheduledResult `json:"scheduled,omitempty"`
}

func main() {
	bots := flag.Int("bots", 1000, "bots to run on the ECS simulator")
	flag.IntVar(&apiCreates, "creates", 10000, "bots to create through the API in the API benchmark")
	out := flag.String("out", "bench.json", "where to write the figures")
	flag.Int64Var(&uploadBytes, "upload-bytes", 500_000_000, "size of the simulated recording uploaded through a presigned PUT")
	flag.IntVar(&metricsBots, "metrics-bots", 10_000, "bots added to the database before timing a /metrics scrape")
	only := flag.String("only", "", `run one part alone: "scheduled" (its figures are merged into --out)`)
	sched := schedFlags(flag.CommandLine)
	flag.Parse()
	var err error
	switch *only {
	case "":
		err = run(*bots, *out, *sched)
	case "scheduled":
		err = runOnlyScheduled(*out, *sched)
	default:
		err = fmt.Errorf("--only %q: the part that runs alone is scheduled", *only)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(n int, out string, sched schedOptions) error {
	ctx := context.Background()
	dbURL, stop, err := database(ctx)
	if err != nil {
		return err
	}
	defer stop()
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := store.Migrate(ctx, pool); err != nil {
		return err
	}
	h, err := newHarness(ctx, pool, n, zap.NewNop())
	if err != nil {
		return err
	}
	res, err := h.measure(ctx, n)
	h.close()
	if err != nil {
		return err
	}
	res.Webhooks = h.hooks.result()
	fmt.Fprintf(os.Stderr, "webhooks: %d deliveries, delay p50 %.1f ms, p99 %.1f ms\n", res.Webhooks.Deliveries, res.Webhooks.P50ms, res.Webhooks.P99ms)
	if res.RecordingUpload, err = measureUpload(ctx, uploadBytes); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "recording upload: %d bytes in %.2f s = %.0f MB/s\n", uploadBytes, res.RecordingUpload.Seconds, res.RecordingUpload.MBPerSecond)
	if res.Metrics, err = measureMetrics(ctx, pool, metricsBots, h.metrics); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "/metrics with %d bots in the database: %d series, %d bytes, scrape %.1f ms (database read), %.1f ms (cached)\n",
		res.Metrics.Bots, res.Metrics.Series, res.Metrics.Bytes, res.Metrics.ColdScrapeMillis, res.Metrics.WarmScrapeMillis)
	if res.API, err = measureAPI(ctx, pool, apiCreates, 10*time.Second); err != nil {
		return err
	}
	if sched.enabled {
		if res.Scheduled, err = runScheduled(ctx, dbURL, sched); err != nil {
			return err
		}
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	fmt.Println(string(b))
	return os.WriteFile(out, append(b, '\n'), 0o644)
}

// runOnlyScheduled runs the scheduled scenario alone and sets its figures
// in out, keeping the other parts' figures already there.
func runOnlyScheduled(out string, sched schedOptions) error {
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
	if res.Scheduled, err = runScheduled(ctx, dbURL, sched); err != nil {
		return err
	}
	// Without an earlier run's file only "scheduled" is written: zeros for
	// the other parts would read as measurements.
	var doc any = res
	if !existed {
		doc = map[string]any{"scheduled": res.Scheduled}
	}
	b, _ := json.MarshalIndent(doc, "", "  ")
	return os.WriteFile(out, append(b, '\n'), 0o644)
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
