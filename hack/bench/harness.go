package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"

	"github.com/meeboter/meeboter/controllers"
	"github.com/meeboter/meeboter/controllers/bot"
	"github.com/meeboter/meeboter/hack/devenv/pgtest"
	"github.com/meeboter/meeboter/pkg/api"
	"github.com/meeboter/meeboter/pkg/botproto"
	"github.com/meeboter/meeboter/pkg/botsim"
	"github.com/meeboter/meeboter/pkg/clock"
	"github.com/meeboter/meeboter/pkg/metrics"
	"github.com/meeboter/meeboter/pkg/platform/ecs"
	"github.com/meeboter/meeboter/pkg/platform/ecs/ecssim"
	"github.com/meeboter/meeboter/pkg/store"
	"github.com/meeboter/meeboter/pkg/webhook"
)

type harness struct {
	pool    *pgxpool.Pool
	sim     *ecssim.Sim
	simSrv  *httptest.Server
	apiSrv  *http.Server
	apiURL  string
	mgr     *controllers.Manager
	store   *store.Store
	startup time.Duration
	hooks   *webhookReceiver
	metrics *metrics.Metrics
	queries *pgtest.QueryCounter // the pool's tracer
	creates createCalls          // when each bot's first RunTask arrived
}

func newHarness(ctx context.Context, pool *pgxpool.Pool, queries *pgtest.QueryCounter, n int, log *zap.Logger) (*harness, error) {
	secret := []byte("bench-webhook-secret-0123456789")
	h := &harness{pool: pool, queries: queries, hooks: newWebhookReceiver(secret)}
	// Every status change of every bot goes to one healthy receiver.
	inserter, err := controllers.NewInsertClient(pool)
	if err != nil {
		return nil, err
	}
	enq := controllers.NewEnqueuer(inserter)
	enq.Webhooks = controllers.WebhookTargets{URL: h.hooks.srv.URL, Render: api.RenderBot}
	h.store = store.New(pool, enq)
	// A cache longer than the run: the load is measured, not the scrapes.
	h.metrics = metrics.New(metrics.Options{State: h.store, StateTTL: time.Minute, Platforms: []string{"aws"}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h.apiURL = "http://" + ln.Addr().String()
	h.apiSrv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: unmarkHeartbeats((&api.Server{Store: h.store, Clock: clock.Wall{},
		Logger: log, Metrics: h.metrics, Config: api.Config{MaxBotLifetime: 3 * time.Hour, BotHeartbeatInterval: 10 * time.Second}}).Handler())}
	go func() { _ = h.apiSrv.Serve(ln) }()

	shared := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}, Timeout: 30 * time.Second}
	settings := botsim.DefaultSettings()
	settings.CallDuration = 0 // stay in the call until told to leave
	cfg := ecssim.Config{AccessKeyID: "AKIDBENCH", SecretAccessKey: "bench", Clusters: []string{"bots"},
		TaskDefinitions: map[string]ecssim.TaskDef{"meeboter-google-meet-bot:1": {ContainerName: "bot"}},
		StopTimeout:     5 * time.Second,
		Workload: func(ctx context.Context, env map[string]string) int {
			return botsim.RunWithEnv(ctx, env, settings, botsim.WithClientOptions(botproto.WithHTTPClient(shared)))
		}}
	h.sim = ecssim.New(cfg)
	h.simSrv = httptest.NewServer(h.creates.wrap(h.sim.Handler()))
	d := h.sim.Config()
	h.startup = d.ProvisioningDelay + d.PendingDelay
	client := awsecs.New(awsecs.Options{Region: "us-east-1", BaseEndpoint: aws.String(h.simSrv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDBENCH", "bench", ""),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.RateLimiter, o.MaxAttempts, o.MaxBackoff = ratelimit.None, 10, 2*time.Second
		})})
	var ecsCalls atomic.Int64
	p, err := ecs.New(client, ecs.Config{Cluster: "bots", Subnets: []string{"subnet-1"},
		TaskDefinitions: map[string]string{"google-meet": "meeboter-google-meet-bot:1"},
		OnRequest: func(op string, err error, d time.Duration) {
			ecsCalls.Add(1)
			status, throttled := ecs.StatusOf(err)
			h.metrics.PlatformRequest("aws", op, status, d, throttled)
		}})
	if err != nil {
		return nil, err
	}
	h.mgr, err = controllers.New(controllers.Config{
		Bot: bot.Config{HeartbeatTimeout: 5 * time.Minute, DeployTimeout: 10 * time.Minute, LeaveTimeout: time.Minute,
			MaxBotLifetime: 3 * time.Hour, QueueTimeout: 30 * time.Minute, JoinLeadTime: time.Second, MaxAttempts: 3},
		PublicURL: h.apiURL, Platforms: []controllers.PlatformConfig{{Platform: p, Limit: n + 100}},
		ReconcileWorker: 100, AdmitInterval: time.Second, ResyncInterval: 2 * time.Second, ObserveInterval: 2 * time.Second,
		GCGrace: time.Minute, JobTimeout: time.Minute,
		Webhooks: controllers.WebhookConfig{Sender: &webhook.Sender{Secret: secret},
			Operator: &webhook.Sender{Secret: secret, Destinations: webhook.Anywhere}}, Metrics: h.metrics},
		controllers.Deps{Pool: pool, Store: h.store, Clock: clock.Wall{}, Logger: log})
	if err != nil {
		return nil, err
	}
	return h, h.mgr.Start(ctx)
}

func (h *harness) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = h.mgr.Stop(ctx)
	_ = h.apiSrv.Shutdown(ctx)
	h.sim.Close()
	h.simSrv.Close()
	h.hooks.srv.Close()
}

// measure creates n bots at once, waits until all are in the call, cancels
// them and waits until every task is stopped.
func (h *harness) measure(ctx context.Context, n int) (Result, error) {
	key, _, err := h.store.CreateAPIKey(ctx, "bench", "bench", time.Now())
	if err != nil {
		return Result{}, err
	}
	over, err := h.idleOverhead(ctx, key)
	if err != nil {
		return Result{}, err
	}
	probe := h.sim.Stats() // the burst's ECS calls are counted from here
	res, ids, err := h.burst(ctx, key, n, over)
	if err != nil {
		return Result{}, err
	}
	steadyFrom, steadyStart := h.sim.Stats(), time.Now()
	if res.DB, err = steadyQueries(ctx, h.queries, n, steadyWindow); err != nil {
		return Result{}, err
	}
	res.ECSReads = ecsReads(diffCounts(steadyFrom.Calls, h.sim.Stats().Calls), time.Since(steadyStart))
	fmt.Printf("ECS reads with %d bots in their calls: %.2f per second = %.1f %% of the read bucket's %g per second\n",
		n, res.ECSReads.PerSecondInCall, 100*res.ECSReads.ReadBucketShare, ecsReadRate)
	if err := h.stopAll(ctx, key, ids, &res); err != nil {
		return Result{}, err
	}
	st := h.sim.Stats()
	res.ECSCalls = diffCounts(probe.Calls, st.Calls)
	delete(res.ECSCalls, "") // requests the simulator could not route
	res.ECSCallsPerBot = float64(sumCounts(res.ECSCalls)) / float64(n)
	res.Throttled = st.Throttled - probe.Throttled
	return res, nil
}

// burst creates n bots at once and waits until all are in their calls;
// over gains the burst's due→RunTask times.
func (h *harness) burst(ctx context.Context, key string, n int, over OverheadResult) (Result, []string, error) {
	start := time.Now()
	ids, err := h.createBots(key, n)
	if err != nil {
		return Result{}, nil, err
	}
	created := time.Since(start)
	fmt.Printf("created %d bots in %s\n", n, created.Round(time.Millisecond))
	bound := launchBound(n, h.startup)
	// Twice what ECS's launch bucket allows, and a few minutes more.
	if err := h.waitCount(ctx, `SELECT count(*) FROM bots WHERE status = 'IN_CALL'`, n, 2*bound+5*time.Minute); err != nil {
		return Result{}, nil, err
	}
	inCall := time.Since(start)
	fmt.Printf("all %d IN_CALL after %s (bound %s)\n", n, inCall.Round(time.Millisecond), bound.Round(time.Millisecond))
	raw, beyond, err := h.createDelays(ctx, ids, start)
	if err != nil {
		return Result{}, nil, err
	}
	over.DueToCreateP50Ms, over.DueToCreateP99Ms, over.DueToCreateMaxMs = quantile(beyond, 0.5), quantile(beyond, 0.99), quantile(beyond, 1)
	over.DueToCreateRawP99Ms = quantile(raw, 0.99)
	fmt.Printf("overhead, burst: due→RunTask beyond the launch bucket p50 %.1f ms, p99 %.1f ms, max %.1f ms (p99 %.1f ms with it)\n",
		over.DueToCreateP50Ms, over.DueToCreateP99Ms, over.DueToCreateMaxMs, over.DueToCreateRawP99Ms)
	return Result{Bots: n, TimeToAllInCall: inCall.Seconds(), LaunchBound: bound.Seconds(),
		RatioToBound: inCall.Seconds() / bound.Seconds(), CreateAPIPerSecond: float64(n) / created.Seconds(), Overhead: over}, ids, nil
}

// stopAll cancels the bots and waits until every task is stopped (the
// idle probe's bots ended before the burst).
func (h *harness) stopAll(ctx context.Context, key string, ids []string, res *Result) error {
	start := time.Now()
	if err := h.cancelBots(key, ids); err != nil {
		return err
	}
	n := len(ids) + overheadProbes
	if err := h.waitCount(ctx, `SELECT count(*) FROM bots WHERE status IN ('DONE', 'FATAL')`, n, stopBound(n)); err != nil {
		return err
	}
	if err := h.waitCount(ctx, `SELECT count(*) FROM deployments WHERE state = 'GONE'`, n, stopBound(n)); err != nil {
		return err
	}
	res.TimeToAllDoneAfterStop = time.Since(start).Seconds()
	return nil
}

func (h *harness) createBots(key string, n int) ([]string, error) {
	ids := make([]string, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range 32 {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				var v struct {
					ID string `json:"id"`
				}
				if err := h.call(key, http.MethodPost, "/api/v1/bots", map[string]any{"meeting_url": "https://meet.google.com/abc-defg-hij"}, &v); err != nil {
					errs <- err
					return
				}
				ids[i] = v.ID
			}
		})
	}
	wg.Wait()
	close(errs)
	return ids, <-errs
}

func (h *harness) cancelBots(key string, ids []string) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(ids))
	sem := make(chan struct{}, 32)
	for _, id := range ids {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := h.call(key, http.MethodPost, "/api/v1/bots/"+id+"/leave", nil, nil); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func (h *harness) call(key, method, path string, body, out any) error {
	raw, _ := json.Marshal(body)
	if body == nil {
		raw = nil
	}
	req, err := http.NewRequest(method, h.apiURL+path, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if out != nil {
		return json.NewDecoder(resp.Body).Decode(out)
	}
	return nil
}

func (h *harness) waitCount(ctx context.Context, sql string, want int, timeout time.Duration) error {
	ctx = pgtest.Mark(ctx) // the bench's polling is not the controller's load
	deadline := time.Now().Add(timeout)
	for {
		var n int
		if err := h.pool.QueryRow(ctx, sql).Scan(&n); err != nil {
			return err
		}
		if n >= want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d after %s: %s", n, want, timeout, sql)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// ecsReadRate is the sustained rate of ECS's cluster-read bucket
// (ListTasks, DescribeTasks) per second.
const ecsReadRate = 20.0

// ECSReadsResult is the "ecs_reads" object of bench.json: the observer's
// and garbage collector's ECS reads while every bot is in its call, the
// figure that grew with the fleet when every running task was read.
type ECSReadsResult struct {
	PerSecondInCall float64 `json:"per_second_in_call"`
	ReadBucketShare float64 `json:"read_bucket_share"`
}

func ecsReads(calls map[string]int, over time.Duration) ECSReadsResult {
	perSecond := float64(calls["ListTasks"]+calls["DescribeTasks"]) / over.Seconds()
	return ECSReadsResult{PerSecondInCall: perSecond, ReadBucketShare: perSecond / ecsReadRate}
}

// stopBound is how long stopping n tasks may take: twice what ECS's modify
// bucket (40 calls a second) allows, and a few minutes more.
func stopBound(n int) time.Duration {
	return time.Duration(2*float64(n)/40*float64(time.Second)) + 5*time.Minute
}
