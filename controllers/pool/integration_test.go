package pool_test

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/meeboter/meeboter/controllers"
	"github.com/meeboter/meeboter/controllers/bot"
	"github.com/meeboter/meeboter/controllers/pool"
	"github.com/meeboter/meeboter/hack/devenv/storetest"
	"github.com/meeboter/meeboter/pkg/api"
	"github.com/meeboter/meeboter/pkg/api/apitest"
	"github.com/meeboter/meeboter/pkg/botproto"
	"github.com/meeboter/meeboter/pkg/botsim"
	"github.com/meeboter/meeboter/pkg/clock"
	"github.com/meeboter/meeboter/pkg/metrics"
	"github.com/meeboter/meeboter/pkg/platform"
	"github.com/meeboter/meeboter/pkg/platform/coolify"
	"github.com/meeboter/meeboter/pkg/platform/coolify/coolifysim"
	"github.com/meeboter/meeboter/pkg/store"
)

const (
	simToken    = "1|simtoken"
	projectUUID = "proj00000000000000000001"
	serverUUID  = "serv00000000000000000001"
)

// testBundle is a whole controller (River, reconcilers, pool) on a real
// Postgres, with the API on an httptest server and Coolify simulated, its
// containers running simulated bots in-process.
type testBundle struct {
	apitest.Client
	apps        func() *coolify.SlotApps
	assignments *assignmentLog
	pool        *pgxpool.Pool
	store       *store.Store
	sim         *coolifysim.Sim
	ctl         *pool.Pool
	metrics     *metrics.Metrics // the pool controller's
}

type opts struct {
	sim      coolifysim.Config
	bot      bot.Config
	maxSlots int
	minIdle  int
	settings botsim.Settings
	// manualPool leaves pool passes to the test (RunOnce), none in the background.
	manualPool bool
	// ephemeral runs COOLIFY_MODE=ephemeral: an application per attempt, no pool.
	ephemeral bool
	// stopTimeout is the pool's StopTimeout (default 5 s).
	stopTimeout time.Duration
	// lookAhead is the pool's LookAhead (hot slots for bots due within it).
	lookAhead time.Duration
}

// poolSync is the pool's period in these tests.
const poolSync = 200 * time.Millisecond

func defaultOpts() opts {
	settings := botsim.DefaultSettings()
	settings.CallDuration = 300 * time.Millisecond
	return opts{
		sim: coolifysim.Config{Token: simToken, ProjectUUID: projectUUID, ServerUUID: serverUUID,
			ColdStart: 150 * time.Millisecond, WarmStart: 30 * time.Millisecond, DeleteDelay: 20 * time.Millisecond},
		bot: bot.Config{HeartbeatTimeout: 30 * time.Second, DeployTimeout: time.Minute, LeaveTimeout: 10 * time.Second,
			MaxBotLifetime: time.Hour, QueueTimeout: time.Minute, JoinLeadTime: time.Second, MaxAttempts: 3},
		maxSlots: 10,
		settings: settings,
	}
}

func setup(t *testing.T, o opts) *testBundle {
	t.Helper()
	ctx := context.Background()
	b := &testBundle{pool: storetest.NewPool(t), metrics: metrics.New(metrics.Options{})}
	inserter, err := controllers.NewInsertClient(b.pool)
	require.NoError(t, err)
	b.store = store.New(b.pool, controllers.NewEnqueuer(inserter))
	log := zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel))

	var handler http.Handler
	apiSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(apiSrv.Close)
	b.URL = apiSrv.URL
	b.assignments = &assignmentLog{t: t, store: b.store, bots: map[string]uuid.UUID{}}
	handler = b.assignments.wrap((&api.Server{Store: b.store, Clock: clock.Wall{}, Logger: log, Config: api.Config{
		MaxBotLifetime: time.Hour, BotHeartbeatInterval: 200 * time.Millisecond, PoolPlatform: coolify.PlatformName,
		SlotPollInterval: time.Second}}).Handler())

	settings := o.settings
	o.sim.Workload = func(ctx context.Context, env map[string]string) int {
		return botsim.RunWithEnv(ctx, env, settings)
	}
	sim, simSrv := coolifysim.NewServer(t, o.sim)
	b.sim = sim
	client, err := coolify.NewClient(coolify.Config{BaseURL: simSrv.URL + "/api/v1", Token: simToken, RatePerMinute: 60_000, Burst: 100})
	require.NoError(t, err)

	specs := []pool.Spec{}
	for _, mp := range []string{"zoom", "microsoft-teams", "google-meet"} {
		specs = append(specs, pool.Spec{MeetingPlatform: mp, AppSpec: pool.AppSpec{
			Image: "ghcr.io/meeboter/meeboter-" + mp + "-bot", Tag: "latest", LimitsCPUs: "1", LimitsMemory: "2048m"}})
	}
	slotApps := &coolify.SlotApps{Client: client, Base: coolify.CreateApp{ProjectUUID: projectUUID, ServerUUID: serverUUID, EnvironmentName: "production", PortsExposes: "3000"}}
	b.apps = func() *coolify.SlotApps { return slotApps }
	b.ctl = &pool.Pool{Config: pool.Config{Platform: coolify.PlatformName, Specs: specs, MinIdle: o.minIdle, MaxSlots: o.maxSlots, IdleTTL: time.Hour,
		MaxConcurrentStarts: 4, StartTimeout: 30 * time.Second, StopTimeout: cmp.Or(o.stopTimeout, 5*time.Second),
		StopRecheck: time.Second, DeleteTimeout: 5 * time.Second,
		OrphanGrace: 2 * time.Second, MaxErrors: 3, LookAhead: o.lookAhead, DemandUnreserved: true,
		Env: func(appUUID, token string) map[string]string {
			return map[string]string{botproto.EnvPoolSlotUUID: appUUID, botproto.EnvPoolSlotToken: token, botproto.EnvCallbackURL: apiSrv.URL}
		}},
		Apps:  slotApps,
		Store: b.store, Clock: clock.Wall{}, Logger: log.Named("pool"), Metrics: b.metrics}
	hashes := map[string]string{}
	for _, s := range specs {
		hashes[s.MeetingPlatform] = s.Hash()
	}
	pp := &pool.SlotPlatform{PlatformName: coolify.PlatformName, Store: b.store, MaxSlots: o.maxSlots, Clock: clock.Wall{},
		SpecHash: func(mp string) (string, bool) { h, ok := hashes[mp]; return h, ok },
		Notify:   func() { require.NoError(t, b.store.Wake(context.Background(), store.WakePool)) }}
	var background controllers.PoolRunner = b.ctl
	var plat platform.Platform = pp
	if o.manualPool {
		background = nil
	} else {
		b.ctl.Config.ListInterval = poolSync // wake-ups between lists are quick passes
	}
	if o.ephemeral {
		background = nil
		plat = &coolify.EphemeralPlatform{Client: client, Base: slotApps.Base, LimitsCPUs: "1", LimitsMemory: "2048m",
			StartTimeout: 30 * time.Second, Clock: clock.Wall{},
			Image: func(mp string) (string, string, bool) {
				return "ghcr.io/meeboter/meeboter-" + mp + "-bot", "latest", true
			}}
	}
	mgr, err := controllers.New(controllers.Config{Bot: o.bot, PublicURL: apiSrv.URL,
		Platforms: []controllers.PlatformConfig{{Platform: plat, Limit: 100}},
		Pool:      background, PoolSyncInterval: poolSync, AdmitInterval: 200 * time.Millisecond,
		ResyncInterval: 300 * time.Millisecond, ObserveInterval: 200 * time.Millisecond, GCInterval: time.Second, GCGrace: 3 * time.Second},
		controllers.Deps{Pool: b.pool, Store: b.store, Clock: clock.Wall{}, Logger: log})
	require.NoError(t, err)
	require.NoError(t, mgr.Start(ctx))
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = mgr.Stop(stopCtx)
	})
	b.Key, _, err = b.store.CreateAPIKey(ctx, "acme", "test", time.Now())
	require.NoError(t, err)
	return b
}

func (b *testBundle) slots(t *testing.T) []store.PoolSlot {
	t.Helper()
	slots, err := b.store.Slots(context.Background())
	require.NoError(t, err)
	return slots
}

// waitAllIdle waits until every slot is IDLE and unassigned.
func (b *testBundle) waitAllIdle(t *testing.T, timeout time.Duration) []store.PoolSlot {
	t.Helper()
	var slots []store.PoolSlot
	require.Eventually(t, func() bool {
		slots = b.slots(t)
		for _, s := range slots {
			if s.State != store.SlotIdle || s.AssignedDeployment != nil {
				return false
			}
		}
		return true
	}, timeout, 50*time.Millisecond, "slots not back to IDLE")
	return slots
}

const (
	meetURL = "https://meet.google.com/abc-defg-hij"
	zoomURL = "https://zoom.us/j/1234567890"
	// teamsURL is a Microsoft Teams meeting link.
	teamsURL = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_NjQ5ZmJk%40thread.v2/0"
)

// drift is the pool's meeboter_drift_corrections_total of one kind.
func (b *testBundle) drift(kind string) float64 {
	return testutil.ToFloat64(b.metrics.DriftCorrections.WithLabelValues(coolify.PlatformName, kind))
}

// orphans is the pool's meeboter_orphans_collected_total.
func (b *testBundle) orphans() float64 {
	return testutil.ToFloat64(b.metrics.OrphansCollected.WithLabelValues(coolify.PlatformName))
}

func (b *testBundle) appExists(appUUID string) bool {
	for _, a := range b.sim.Apps() {
		if a.UUID == appUUID && !a.Deleted {
			return true
		}
	}
	return false
}

// assignmentLog watches every slot assignment the API hands out and fails
// the test when a slot gets a bot while its previous bot is not finished:
// two bots on one slot.
type assignmentLog struct {
	t     *testing.T
	store *store.Store
	mu    sync.Mutex
	bots  map[string]uuid.UUID // slot uuid -> last bot assigned
	count int
}

func (l *assignmentLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != botproto.PathAssignment {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var a botproto.Assignment
		if rec.Code == http.StatusOK && json.Unmarshal(rec.Body.Bytes(), &a) == nil && a.Assigned {
			l.record(r.Header.Get(botproto.HeaderPoolSlot), uuid.MustParse(a.BotID))
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

func (l *assignmentLog) record(slot string, botID uuid.UUID) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.count++
	prev, ok := l.bots[slot]
	l.bots[slot] = botID
	if !ok || prev == botID {
		return
	}
	b, _, err := l.store.LoadBot(context.Background(), prev)
	if err == nil && !b.Status.Terminal() {
		l.t.Errorf("slot %s assigned to bot %s while bot %s (%s) still runs on it", slot, botID, prev, b.Status)
	}
}

// assigned returns how many assignments were handed out.
func (l *assignmentLog) assigned() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.count
}
