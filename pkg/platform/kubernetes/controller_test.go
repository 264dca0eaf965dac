package kubernetes_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meeboter/meeboter/controllers"
	"github.com/meeboter/meeboter/controllers/bot"
	"github.com/meeboter/meeboter/hack/devenv/kubenode"
	"github.com/meeboter/meeboter/hack/devenv/storetest"
	"github.com/meeboter/meeboter/pkg/api"
	"github.com/meeboter/meeboter/pkg/api/apitest"
	"github.com/meeboter/meeboter/pkg/botsim"
	"github.com/meeboter/meeboter/pkg/clock"
	"github.com/meeboter/meeboter/pkg/platform/kubernetes"
	"github.com/meeboter/meeboter/pkg/platform/platformtest"
	"github.com/meeboter/meeboter/pkg/store"
)

const meetURL = "https://meet.google.com/abc-defg-hij"

// fleet is a whole controller on a real Postgres, real River and the API,
// deploying to a namespace of the real API server whose node runs
// simulated bots in-process; a fake platform is second in priority.
type fleet struct {
	apitest.Client
	*testBundle
	store    *store.Store
	db       *pgxpool.Pool
	fallback *platformtest.Fake
}

type fleetOpts struct {
	node     kubenode.Config
	settings botsim.Settings
	gcGrace  time.Duration
}

func setupFleet(t *testing.T, o fleetOpts) *fleet {
	t.Helper()
	ctx := context.Background()
	f := &fleet{fallback: &platformtest.Fake{}}
	pool := storetest.NewPool(t)
	f.db = pool
	inserter, err := controllers.NewInsertClient(pool)
	require.NoError(t, err)
	f.store = store.New(pool, controllers.NewEnqueuer(inserter))
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	handler = (&api.Server{Store: f.store, Clock: clock.Wall{}, Logger: log, Config: api.Config{
		MaxBotLifetime: time.Hour, BotHeartbeatInterval: 200 * time.Millisecond,
		Platforms: []api.PlatformLimit{{Name: kubernetes.Name, Limit: 100}, {Name: "fake", Limit: 100}}}}).Handler()

	settings := o.settings
	if settings == (botsim.Settings{}) {
		settings = botsim.DefaultSettings()
		settings.CallDuration = 300 * time.Millisecond
	}
	o.node.Workload = func(ctx context.Context, env map[string]string) int {
		if env["BOT_ID"] == "" { // not a bot of ours: a container that just runs
			<-ctx.Done()
			return 0
		}
		return botsim.RunWithEnv(ctx, env, settings)
	}
	// The watch wakes the observer, as in production.
	wake := func() { _ = f.store.Wake(context.Background(), store.WakeObserve(kubernetes.Name)) }
	f.testBundle = setup(t, opts{node: o.node, platform: kubernetes.Config{StopGrace: 2 * time.Second, OnChange: wake}})
	f.startManager(t, pool, log, o)
	f.Key, _, err = f.store.CreateAPIKey(ctx, "acme", "test", time.Now())
	require.NoError(t, err)
	t.Cleanup(func() {
		if t.Failed() {
			f.dump(t)
		}
	})
	return f
}

// dump logs the namespace's pods and the bots' timelines, for a failure.
func (f *fleet) dump(t *testing.T) {
	list, err := f.client.CoreV1().Pods(f.ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Logf("list pods: %v", err)
		return
	}
	for _, p := range list.Items {
		t.Logf("pod %s phase %s deleting %v status %+v", p.Name, p.Status.Phase, p.DeletionTimestamp != nil, p.Status.ContainerStatuses)
	}
	rows, err := f.db.Query(context.Background(), `(SELECT bot_id::text, type, data::text FROM bot_events ORDER BY id)
		UNION ALL SELECT bot_id::text, 'deployment '||attempt||' '||state||' '||coalesce(observed, '-'), coalesce(exit_code::text, '-') FROM deployments`)
	if err != nil {
		t.Logf("events: %v", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var id, typ, data string
		_ = rows.Scan(&id, &typ, &data)
		t.Logf("event %s %s %s", id, typ, data)
	}
}

func (f *fleet) startManager(t *testing.T, pool *pgxpool.Pool, log *zap.Logger, o fleetOpts) {
	t.Helper()
	gcGrace := o.gcGrace
	if gcGrace == 0 {
		gcGrace = 3 * time.Second
	}
	mgr, err := controllers.New(controllers.Config{
		Bot: bot.Config{HeartbeatTimeout: 30 * time.Second, DeployTimeout: time.Minute, LeaveTimeout: 10 * time.Second,
			MaxBotLifetime: time.Hour, QueueTimeout: time.Minute, JoinLeadTime: time.Second, MaxAttempts: 3},
		PublicURL:     f.URL,
		Platforms:     []controllers.PlatformConfig{{Platform: f.platform, Limit: 100}, {Platform: f.fallback, Limit: 100}},
		AdmitInterval: 200 * time.Millisecond, ResyncInterval: 300 * time.Millisecond, ObserveInterval: time.Second,
		GCInterval: time.Second, GCGrace: gcGrace},
		controllers.Deps{Pool: pool, Store: f.store, Clock: clock.Wall{}, Logger: log})
	require.NoError(t, err)
	require.NoError(t, mgr.Start(context.Background()))
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = mgr.Stop(stopCtx)
	})
}

// pods are the namespace's pods.
func (f *fleet) pods(t *testing.T) []corev1.Pod {
	t.Helper()
	list, err := f.client.CoreV1().Pods(f.ns).List(t.Context(), metav1.ListOptions{})
	require.NoError(t, err)
	return list.Items
}

func (f *fleet) waitNoPods(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool { return len(f.pods(t)) == 0 }, 30*time.Second, 50*time.Millisecond,
		"a pod outlived its bot")
}

func TestBotReachesDoneAndItsPodIsGone(t *testing.T) {
	t.Parallel()
	f := setupFleet(t, fleetOpts{})
	v := f.CreateBot(t, meetURL, nil)
	require.Eventually(t, func() bool {
		for _, p := range f.pods(t) {
			if p.Labels[kubernetes.LabelBot] == v.ID.String() {
				return true
			}
		}
		return false
	}, 20*time.Second, 20*time.Millisecond, "no pod for the bot")
	done := f.WaitStatus(t, v.ID, 30*time.Second, store.StatusDone, store.StatusFatal)
	require.Equal(t, store.StatusDone, done.Status, "reason %v", done.StatusReason)
	f.waitNoPods(t)
	require.Empty(t, f.fallback.Created(), "nothing fell back")
}

func TestCancelAndLeaveDeleteThePod(t *testing.T) {
	t.Parallel()
	f := setupFleet(t, fleetOpts{})
	for _, stop := range []struct{ method, suffix, reason string }{
		{http.MethodDelete, "", store.ReasonCancelled},
		{http.MethodPost, "/leave", store.ReasonRemoved},
	} {
		v := f.CreateBot(t, meetURL, map[string]any{"call_seconds": 0, "ignore_leave": stop.suffix == ""})
		f.WaitStatus(t, v.ID, 20*time.Second, store.StatusInCall)
		require.Equal(t, http.StatusAccepted, f.Call(t, stop.method, "/api/v1/bots/"+v.ID.String()+stop.suffix, nil, nil))
		done := f.WaitStatus(t, v.ID, 20*time.Second, store.StatusDone, store.StatusFatal)
		require.Equal(t, stop.reason, *done.StatusReason)
		f.waitNoPods(t)
	}
}

// A pod of ours that no deployment owns is deleted by garbage collection.
func TestUnownedPodIsCollected(t *testing.T) {
	t.Parallel()
	f := setupFleet(t, fleetOpts{gcGrace: time.Second})
	orphan := workload(uuid.NewString(), nil)
	_, err := f.platform.Create(t.Context(), orphan)
	require.NoError(t, err)
	f.waitNoPods(t)
}

// A quota that admits no pod sends the bot to the next platform at once.
func TestQuotaRefusalFallsBack(t *testing.T) {
	t.Parallel()
	f := setupFleet(t, fleetOpts{})
	f.admitNoPod(t)

	v := f.CreateBot(t, meetURL, nil)
	require.Eventually(t, func() bool { return len(f.fallback.Created()) == 1 }, 20*time.Second, 20*time.Millisecond,
		"the bot did not fall back")
	require.Equal(t, v.ID.String(), f.fallback.Created()[0].BotID)
	require.Empty(t, f.pods(t))
}

// An image that cannot be pulled and an OOM kill end the attempt with a
// reason on the bot's timeline; after MAX_ATTEMPTS the bot is FATAL.
func TestFailuresLeaveReasonsOnTheTimeline(t *testing.T) {
	t.Parallel()
	f := setupFleet(t, fleetOpts{node: kubenode.Config{
		ImagePullFails: func(image string) bool { return image == "ghcr.io/meeboter/meeboter-zoom-bot:v1" },
		OOMAfter:       func(*corev1.Pod) time.Duration { return 300 * time.Millisecond }}})
	for _, c := range []struct{ url, reason string }{
		{"https://zoom.us/j/123456789", kubernetes.CodeImagePullFailed},
		{meetURL, kubernetes.CodeOOMKilled},
	} {
		v := f.CreateBot(t, c.url, map[string]any{"call_seconds": 60})
		done := f.WaitStatus(t, v.ID, time.Minute, store.StatusDone, store.StatusFatal)
		require.Equal(t, store.StatusFatal, done.Status)
		events, err := f.store.ListEvents(t.Context(), "acme", v.ID, 0, 100)
		require.NoError(t, err)
		var reasons []string
		for _, e := range events {
			if e.Type == store.EventWorkloadObserved {
				var data struct{ Reason string }
				require.NoError(t, json.Unmarshal(e.Data, &data))
				reasons = append(reasons, data.Reason)
			}
		}
		require.NotEmpty(t, reasons)
		for _, r := range reasons {
			require.Equal(t, c.reason, r, "every attempt ended so")
		}
	}
	f.waitNoPods(t)
}
