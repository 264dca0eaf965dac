package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/meeboter/meeboter/pkg/botproto"
	"github.com/meeboter/meeboter/pkg/botsim"
	"github.com/meeboter/meeboter/pkg/platform/coolify/coolifysim"
	"github.com/meeboter/meeboter/pkg/platform/ecs/ecssim"
)

// ECS simulator identity: any values, SigV4 is checked against them.
const (
	simAccessKey = "AKIDBENCHSCHEDULED"
	simSecretKey = "bench-scheduled-secret"
	simCluster   = "bots"
)

// simWorld is both simulators, served on loopback by this process, and the
// simulated bots their containers run: an ECS task is one bot attempt, a
// Coolify container a pool slot. Bots keep running while the controller
// process is killed, as containers would.
type simWorld struct {
	scale    float64
	ecs      *ecssim.Sim
	ecsSrv   *httptest.Server
	coolify  *coolifysim.Sim
	coolSrv  *httptest.Server
	joins    *joinRecorder
	client   *http.Client // every bot's, through joins
	settings botsim.Settings
}

// startSims starts the simulators with the world's latencies scaled.
func startSims(scale float64, c capacity) *simWorld {
	w := &simWorld{scale: scale, settings: botsim.DefaultSettings()}
	w.joins = newJoinRecorder(&http.Transport{MaxIdleConns: 1024, MaxIdleConnsPerHost: 512, IdleConnTimeout: 90 * time.Second})
	w.client = &http.Client{Transport: w.joins, Timeout: botproto.DefaultRequestTimeout}
	s := func(d time.Duration) time.Duration { return max(scaled(d, scale), time.Millisecond) }
	w.ecs = ecssim.New(ecssim.Config{AccessKeyID: simAccessKey, SecretAccessKey: simSecretKey, Clusters: []string{simCluster},
		TaskDefinitions:   map[string]ecssim.TaskDef{"bot:1": {ContainerName: "bot"}},
		ProvisioningDelay: s(world.FargateProvisioning), PendingDelay: s(world.FargatePending),
		StopDelay: s(world.FargateStop), StopTimeout: s(world.FargateStopTimeout),
		Workload: w.fargateTask})
	w.ecsSrv = httptest.NewServer(w.ecs.Handler())
	w.coolify = coolifysim.New(coolifysim.Config{ColdStart: s(world.CoolifyCold), WarmStart: s(world.CoolifyWarm),
		ConcurrentBuilds: c.ConcurrentBuilds, RateLimitPerMinute: int(coolifyServerRatePerMinute / scale),
		Workload: w.poolSlot})
	w.coolSrv = httptest.NewServer(w.coolify.Handler())
	return w
}

// controllerEnv points the controller at both simulators.
func (w *simWorld) controllerEnv() []string {
	cfg := w.coolify.Config()
	return []string{
		"COOLIFY_API_URL=" + w.coolSrv.URL + "/api/v1", "COOLIFY_API_TOKEN=" + cfg.Token,
		"COOLIFY_PROJECT_UUID=" + cfg.ProjectUUID, "COOLIFY_SERVER_UUID=" + cfg.ServerUUID,
		"AWS_ENDPOINT_URL_ECS=" + w.ecsSrv.URL, "AWS_ACCESS_KEY_ID=" + simAccessKey,
		"AWS_SECRET_ACCESS_KEY=" + simSecretKey, "AWS_REGION=us-east-1", "ECS_CLUSTER=" + simCluster,
	}
}

// close stops every container (the bots say goodbye to a controller that
// may be gone) and the servers.
func (w *simWorld) close() {
	w.ecs.Close()
	w.coolify.Close()
	w.ecsSrv.Close()
	w.coolSrv.Close()
}

// fargateTask is an ECS task's container: the bot process boots (the last
// 0–30 s of a Fargate start, scaled) and plays its one attempt.
func (w *simWorld) fargateTask(ctx context.Context, env map[string]string) int {
	boot := rand.N(scaled(world.FargateBootMax, w.scale) + 1)
	if sleepCtx(ctx, boot) != nil {
		return 0
	}
	return botsim.RunWithEnv(ctx, env, w.settings, botsim.WithClientOptions(botproto.WithHTTPClient(w.client)))
}

// poolSlot is a Coolify slot container: it asks for work, plays what it
// is given, and asks again until stopped.
func (w *simWorld) poolSlot(ctx context.Context, env map[string]string) int {
	slot, err := botproto.SlotClientFromEnv(func(k string) string { return env[k] }, botproto.WithHTTPClient(w.client))
	if err != nil {
		return botsim.ExitUsage
	}
	poll := scaled(world.SlotIdlePoll, w.scale)
	p := &botsim.PoolSlot{API: scaledPoll{slot: slot, scale: w.scale},
		NewBotAPI: func(botID, token string) botsim.API { return slot.BotClient(botID, token) },
		Settings:  w.settings, IdleInterval: poll}
	return p.Run(ctx)
}

// scaledPoll asks for an assignment until there is one, waiting the
// controller's retry_after scaled between asks: an idle slot polls as
// often, relative to the compressed world, as a real one does.
type scaledPoll struct {
	slot  *botproto.SlotClient
	scale float64
}

func (s scaledPoll) Assignment(ctx context.Context) (*botproto.Assignment, error) {
	for {
		a, err := s.slot.Assignment(ctx)
		if err != nil || a.Assigned {
			return a, err
		}
		if err := sleepCtx(ctx, scaled(a.RetryAfter(world.SlotIdlePoll), s.scale)); err != nil {
			return nil, err
		}
	}
}

// joinRecorder notes when each bot first sent JOINING_CALL, so the time
// the controller took to record it can be told apart from the time the
// bot chose to send it.
type joinRecorder struct {
	base http.RoundTripper
	mu   sync.Mutex
	sent map[string]time.Time // bot id → first JOINING_CALL sent
}

func newJoinRecorder(base http.RoundTripper) *joinRecorder {
	return &joinRecorder{base: base, sent: map[string]time.Time{}}
}

func (r *joinRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Method != http.MethodPost || !strings.HasSuffix(req.URL.Path, botproto.PathStatus) || req.Body == nil {
		return r.base.RoundTrip(req)
	}
	at := time.Now()
	body, err := io.ReadAll(req.Body)
	_ = req.Body.Close()
	if err != nil {
		return nil, err
	}
	var st botproto.StatusRequest
	if json.Unmarshal(body, &st) == nil && st.Status == botproto.StatusJoiningCall {
		r.note(req.Header.Get(botproto.HeaderBotID), at)
	}
	out := req.Clone(req.Context())
	out.Body = io.NopCloser(bytes.NewReader(body))
	out.ContentLength = int64(len(body))
	return r.base.RoundTrip(out)
}

func (r *joinRecorder) note(botID string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.sent[botID]; !ok {
		r.sent[botID] = at
	}
}

// sentAt is when botID first sent JOINING_CALL.
func (r *joinRecorder) sentAt(botID string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	t, ok := r.sent[botID]
	return t, ok
}

// sleepCtx waits d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// simStats is what the simulators saw: whether their rate limits bit, how
// much ran at once.
type simStats struct {
	ECS struct {
		Calls      int `json:"calls"`
		Throttled  int `json:"throttled"`
		Launched   int `json:"tasks_launched"`
		Failures   int `json:"capacity_failures"`
		MaxRunning int `json:"max_running"`
		MaxActive  int `json:"max_not_stopped"`
	} `json:"ecs"`
	Coolify struct {
		Calls         int `json:"calls"`
		Throttled     int `json:"throttled"`
		Deployments   int `json:"deployments"`
		MaxInProgress int `json:"max_deployments_in_progress"`
	} `json:"coolify"`
}

func (w *simWorld) stats() simStats {
	var s simStats
	e, c := w.ecs.Stats(), w.coolify.Stats()
	for _, n := range e.Calls {
		s.ECS.Calls += n
	}
	s.ECS.Throttled, s.ECS.Launched, s.ECS.Failures = e.Throttled, e.Launched, e.Failures
	s.ECS.MaxRunning, s.ECS.MaxActive = e.MaxRunning, e.MaxActive
	for _, n := range c.Calls {
		s.Coolify.Calls += n
	}
	s.Coolify.Throttled, s.Coolify.Deployments, s.Coolify.MaxInProgress = c.Throttled, c.Deployments, c.MaxInProgress
	return s
}
