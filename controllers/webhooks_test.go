package controllers_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/controllers"
	"github.com/meeboter/meeboter/controllers/bot"
	"github.com/meeboter/meeboter/hack/devenv/storetest"
	"github.com/meeboter/meeboter/pkg/clock"
	"github.com/meeboter/meeboter/pkg/store"
	"github.com/meeboter/meeboter/pkg/webhook"
)

// webhookSecret is the operator's (WEBHOOK_URL); each tenant's callbacks
// are signed with its own.
var (
	webhookSecret = []byte("test-webhook-secret-0123456789")
	acmeSecret    = webhook.NewSecret()
	globexSecret  = webhook.NewSecret()
)

// delivery is one request a receiver got.
type delivery struct {
	header  http.Header
	body    []byte
	payload webhook.Payload
	at      time.Time
}

// receiver is a loopback webhook endpoint; answer decides each response
// (n counts requests from 1).
type receiver struct {
	t      *testing.T
	secret []byte
	mu     sync.Mutex
	got    []delivery
	answer func(n int, w http.ResponseWriter, r *http.Request)
	url    string
}

func newReceiver(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	return newReceiverFor(t, []byte(acmeSecret), answer)
}

// newReceiverFor is a receiver that verifies with secret.
func newReceiverFor(t *testing.T, secret []byte, answer func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	rc := &receiver{t: t, secret: secret, answer: answer}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	rc.url = srv.URL + "/hook"
	return rc
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	d := delivery{header: r.Header.Clone(), body: body, at: time.Now()}
	require.NoError(rc.t, webhook.Verify(rc.secret, r.Header, body, time.Now(), time.Minute), "every delivery is signed")
	require.NoError(rc.t, json.Unmarshal(body, &d.payload))
	rc.mu.Lock()
	rc.got = append(rc.got, d)
	n := len(rc.got)
	rc.mu.Unlock()
	if rc.answer != nil {
		rc.answer(n, w, r)
	}
}

func (rc *receiver) deliveries() []delivery {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]delivery(nil), rc.got...)
}

// countingReconciler counts reconciles, to show webhooks never hold them up.
type countingReconciler struct {
	mu    sync.Mutex
	calls map[uuid.UUID]int
}

func (r *countingReconciler) Reconcile(_ context.Context, id uuid.UUID) (bot.Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls[id]++
	return bot.Result{}, nil
}

func (r *countingReconciler) reconciled(id uuid.UUID) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[id] > 0
}

type webhookBundle struct {
	st         *store.Store
	reconciler *countingReconciler
}

// loopback lets the tests' receivers, on 127.0.0.1, be reached.
var loopback = webhook.Destinations{AllowNets: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}

func setupWebhooks(t *testing.T, globalURL string, cfg controllers.WebhookConfig) *webhookBundle {
	t.Helper()
	pool := storetest.NewPool(t)
	inserter, err := controllers.NewInsertClient(pool)
	require.NoError(t, err)
	enq := controllers.NewEnqueuer(inserter)
	enq.Webhooks = controllers.WebhookTargets{URL: globalURL, Render: func(b store.Bot) ([]byte, error) {
		return json.Marshal(map[string]any{"id": b.ID, "status": b.Status})
	}}
	st := store.New(pool, enq)
	for owner, secret := range map[string]string{"acme": acmeSecret, "globex": globexSecret} {
		_, err := st.EnsureWebhookSecret(context.Background(), owner, secret, time.Now())
		require.NoError(t, err)
	}
	rec := &countingReconciler{calls: map[uuid.UUID]int{}}
	if cfg.Sender == nil {
		cfg.Sender = &webhook.Sender{Secret: webhookSecret, Timeout: 2 * time.Second, Destinations: loopback}
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &controllers.ReconcileWorker{Reconciler: rec, Store: st,
		Locks: storetest.NewSession(t, pool, controllers.ClientID("webhooks-test"))})
	river.AddWorker(workers, &controllers.WebhookWorker{Config: cfg, Store: st, Clock: clock.Wall{}})
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues: map[string]river.QueueConfig{controllers.QueueReconcile: {MaxWorkers: 5},
			controllers.QueueWebhook: {MaxWorkers: cfg.Workers}},
		Workers:       workers,
		FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond,
		TestOnly: true,
	})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() { _ = client.Stop(context.WithoutCancel(ctx)) })
	return &webhookBundle{st: st, reconciler: rec}
}

func (b *webhookBundle) createBot(t *testing.T, callbackURL string) store.Bot {
	t.Helper()
	return b.createBotFor(t, "acme", callbackURL)
}

func (b *webhookBundle) createBotFor(t *testing.T, owner, callbackURL string) store.Bot {
	t.Helper()
	nb := store.NewBot{Owner: owner, MeetingURL: "https://meet.google.com/abc-defg-hij", MeetingPlatform: "google-meet", BotName: "b"}
	if callbackURL != "" {
		nb.CallbackURL = &callbackURL
	}
	res, err := b.st.CreateBot(context.Background(), nb, nil, time.Now(), func(b store.Bot) ([]byte, error) { return json.Marshal(b.ID) })
	require.NoError(t, err)
	return res.Bot
}

// deliveryEvents are the bot's WEBHOOK_DELIVERY events' data.
func (b *webhookBundle) deliveryEvents(t *testing.T, id uuid.UUID) []map[string]any {
	t.Helper()
	events, err := b.st.ListEvents(context.Background(), "acme", id, 0, 1000)
	require.NoError(t, err)
	var out []map[string]any
	for _, e := range events {
		if e.Type == "WEBHOOK_DELIVERY" {
			var data map[string]any
			require.NoError(t, json.Unmarshal(e.Data, &data))
			out = append(out, data)
		}
	}
	return out
}

func (b *webhookBundle) statusEventID(t *testing.T, id uuid.UUID, status store.Status) string {
	t.Helper()
	events, err := b.st.ListEvents(context.Background(), "acme", id, 0, 1000)
	require.NoError(t, err)
	for _, e := range events {
		if e.Type == string(status) {
			return strconv.FormatInt(e.ID, 10)
		}
	}
	t.Fatalf("no %s event", status)
	return ""
}

func TestWebhooksDeliverEveryStatusChangeSigned(t *testing.T) {
	t.Parallel()
	callback := newReceiver(t, nil)
	global := newReceiverFor(t, webhookSecret, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	b := setupWebhooks(t, global.url, controllers.WebhookConfig{Workers: 4})
	ctx := context.Background()
	withHook := b.createBot(t, callback.url)
	without := b.createBot(t, "")
	_, err := b.st.FinishBot(ctx, withHook.ID, store.StatusFatal, store.ReasonQueueTimeout, time.Now())
	require.NoError(t, err)

	require.Eventually(t, func() bool { return len(callback.deliveries()) == 2 && len(global.deliveries()) == 3 },
		10*time.Second, 10*time.Millisecond)
	byStatus := map[string]delivery{}
	for _, d := range callback.deliveries() {
		require.Equal(t, withHook.ID.String(), d.payload.BotID, "a callback_url gets its own bot's changes only")
		require.Equal(t, webhook.TypeStatusChanged, d.payload.Type)
		require.Equal(t, d.payload.EventID, d.header.Get(webhook.HeaderEventID))
		byStatus[d.payload.Status] = d
	}
	require.Equal(t, b.statusEventID(t, withHook.ID, store.StatusQueued), byStatus["QUEUED"].payload.EventID)
	require.Nil(t, byStatus["QUEUED"].payload.StatusReason)
	fatal := byStatus["FATAL"].payload
	require.Equal(t, b.statusEventID(t, withHook.ID, store.StatusFatal), fatal.EventID)
	require.Equal(t, store.ReasonQueueTimeout, *fatal.StatusReason)
	require.JSONEq(t, `{"id":"`+withHook.ID.String()+`","status":"FATAL"}`, string(fatal.Bot), "the bot as it was at the change")

	// WEBHOOK_URL sees every bot; each attempt is in the bot's timeline.
	bots := map[string]int{}
	for _, d := range global.deliveries() {
		bots[d.payload.BotID]++
	}
	require.Equal(t, map[string]int{withHook.ID.String(): 2, without.ID.String(): 1}, bots)
	require.Eventually(t, func() bool { return len(b.deliveryEvents(t, withHook.ID)) == 4 }, 5*time.Second, 10*time.Millisecond)
	for _, e := range b.deliveryEvents(t, withHook.ID) {
		require.Equal(t, "delivered", e["outcome"])
		require.Contains(t, []any{"callback", "global"}, e["target"])
		require.Contains(t, []any{200.0, 204.0}, e["status_code"])
	}
}

func TestWebhookRetriedUntilTheReceiverRecovers(t *testing.T) {
	t.Parallel()
	flaky := newReceiver(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	b := setupWebhooks(t, "", controllers.WebhookConfig{Workers: 2, RetryBase: 50 * time.Millisecond})
	created := b.createBot(t, flaky.url)

	require.Eventually(t, func() bool { return len(b.deliveryEvents(t, created.ID)) == 3 }, 15*time.Second, 10*time.Millisecond)
	got := flaky.deliveries()
	require.Len(t, got, 3)
	for _, d := range got[1:] {
		require.Equal(t, got[0].body, d.body, "every retry sends the same bytes")
	}
	events := b.deliveryEvents(t, created.ID)
	for i, want := range []string{"retrying", "retrying", "delivered"} {
		require.Equal(t, want, events[i]["outcome"], "attempt %d", i+1)
		require.EqualValues(t, i+1, events[i]["attempt"])
		require.Equal(t, got[0].payload.EventID, events[i]["event_id"])
	}
	require.EqualValues(t, 503, events[0]["status_code"])
	require.Equal(t, "http_status", events[0]["reason"])
}

func TestWebhookGivesUp(t *testing.T) {
	t.Parallel()
	t.Run("a receiver that rejects the event", func(t *testing.T) {
		t.Parallel()
		rejecting := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadRequest) })
		b := setupWebhooks(t, "", controllers.WebhookConfig{Workers: 2, RetryBase: 50 * time.Millisecond})
		created := b.createBot(t, rejecting.url)
		require.Eventually(t, func() bool { return len(b.deliveryEvents(t, created.ID)) == 1 }, 10*time.Second, 10*time.Millisecond)
		require.Equal(t, "gave_up", b.deliveryEvents(t, created.ID)[0]["outcome"])
		requireWebhookJobs(t, b, rivertype.JobStateCancelled)
		require.Len(t, rejecting.deliveries(), 1, "a 400 is not retried")
	})
	t.Run("the retry window closes", func(t *testing.T) {
		t.Parallel()
		down := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) })
		b := setupWebhooks(t, "", controllers.WebhookConfig{Workers: 2, RetryBase: 50 * time.Millisecond, Window: 500 * time.Millisecond})
		created := b.createBot(t, down.url)
		require.Eventually(t, func() bool {
			events := b.deliveryEvents(t, created.ID)
			return len(events) > 0 && events[len(events)-1]["outcome"] == "gave_up"
		}, 15*time.Second, 20*time.Millisecond)
		requireWebhookJobs(t, b, rivertype.JobStateCancelled)
		require.Greater(t, len(down.deliveries()), 1, "retried within the window")
	})
}

func requireWebhookJobs(t *testing.T, b *webhookBundle, state rivertype.JobState) {
	t.Helper()
	require.Eventually(t, func() bool {
		var states []string
		require.NoError(t, b.st.Pool().QueryRow(context.Background(),
			`SELECT array_agg(DISTINCT state::text) FROM river_job WHERE kind = 'webhook'`).Scan(&states))
		return len(states) == 1 && states[0] == string(state)
	}, 5*time.Second, 10*time.Millisecond)
}

// A receiver that hangs holds webhook workers only: reconciles go on.
func TestSlowReceiverNeverDelaysReconciles(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	hanging := newReceiver(t, func(_ int, _ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	b := setupWebhooks(t, "", controllers.WebhookConfig{Workers: 2,
		Sender: &webhook.Sender{Secret: webhookSecret, Timeout: 10 * time.Second, Destinations: loopback}})
	t.Cleanup(func() { close(release) }) // runs before the River client stops
	var bots []store.Bot
	for range 6 {
		bots = append(bots, b.createBot(t, hanging.url))
	}
	require.Eventually(t, func() bool { return len(hanging.deliveries()) == 2 }, 5*time.Second, 10*time.Millisecond,
		"both webhook workers are stuck on the receiver")
	start := time.Now()
	for _, created := range bots {
		require.Eventually(t, func() bool { return b.reconciler.reconciled(created.ID) }, 5*time.Second, 10*time.Millisecond)
	}
	require.Less(t, time.Since(start), 3*time.Second)
	require.Len(t, hanging.deliveries(), 2, "the other deliveries wait for a free webhook worker")
}

// A tenant's callback_url that resolves inside our network is never
// dialled: the delivery gives up at once with a code (no network error
// text to scan ports with), while the operator's WEBHOOK_URL on the same
// loopback is delivered.
func TestWebhookCallbacksCannotReachInside(t *testing.T) {
	t.Parallel()
	internal := newReceiver(t, nil)
	global := newReceiverFor(t, webhookSecret, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	b := setupWebhooks(t, global.url, controllers.WebhookConfig{Workers: 2,
		Sender:   &webhook.Sender{Secret: webhookSecret, Timeout: 2 * time.Second},
		Operator: &webhook.Sender{Secret: webhookSecret, Timeout: 2 * time.Second, Destinations: webhook.Anywhere}})
	created := b.createBot(t, strings.Replace(internal.url, "127.0.0.1", "localhost", 1))

	require.Eventually(t, func() bool {
		events := b.deliveryEvents(t, created.ID)
		return len(events) == 2 && len(global.deliveries()) == 1
	}, 10*time.Second, 10*time.Millisecond)
	for _, e := range b.deliveryEvents(t, created.ID) {
		if e["target"] == controllers.TargetGlobal {
			require.Equal(t, "delivered", e["outcome"])
			continue
		}
		require.Equal(t, "gave_up", e["outcome"], "no retry changes where it points")
		require.Equal(t, "forbidden_destination", e["reason"])
		require.NotContains(t, e, "error")
	}
	require.Empty(t, internal.deliveries(), "nothing reached the internal receiver")
}

// Each tenant's callbacks are signed with its own secrets only: what one
// tenant can sign, another's receiver refuses. A rotation signs with both
// secrets during its overlap, then with the new one alone.
func TestCallbacksAreSignedWithTheirTenantsSecrets(t *testing.T) {
	t.Parallel()
	acme := newReceiver(t, nil)
	globex := newReceiverFor(t, []byte(globexSecret), nil)
	b := setupWebhooks(t, "", controllers.WebhookConfig{Workers: 2})
	b.createBotFor(t, "acme", acme.url)
	b.createBotFor(t, "globex", globex.url)
	require.Eventually(t, func() bool { return len(acme.deliveries()) == 1 && len(globex.deliveries()) == 1 },
		10*time.Second, 10*time.Millisecond, "each verified with its own tenant's secret")
	d := acme.deliveries()[0]
	for _, other := range [][]byte{[]byte(globexSecret), webhookSecret} {
		require.ErrorIs(t, webhook.Verify(other, d.header, d.body, time.Now(), time.Minute), webhook.ErrBadSignature,
			"another tenant's (or the operator's) secret cannot sign for acme")
	}

	ctx := context.Background()
	rotated := webhook.NewSecret()
	require.NoError(t, b.st.RotateWebhookSecret(ctx, "acme", rotated, time.Hour, time.Now()))
	b.createBotFor(t, "acme", acme.url)
	require.Eventually(t, func() bool { return len(acme.deliveries()) == 2 }, 10*time.Second, 10*time.Millisecond)
	d = acme.deliveries()[1]
	for _, secret := range []string{acmeSecret, rotated} {
		require.NoError(t, webhook.Verify([]byte(secret), d.header, d.body, time.Now(), time.Minute), "both sign during the overlap")
	}

	require.NoError(t, b.st.RotateWebhookSecret(ctx, "acme", webhook.NewSecret(), 0, time.Now()))
	secrets, err := b.st.SigningSecrets(ctx, "acme", time.Now())
	require.NoError(t, err)
	require.Len(t, secrets, 1, "without overlap, only the newest signs")
	require.NotContains(t, secrets, acmeSecret)
	require.NotContains(t, secrets, rotated)
}

// One tenant's hanging receivers slow only that tenant: with 50 of
// globex's receivers never answering, acme's deliveries still arrive
// within 2 s — without the gate, globex's deliveries held every worker for
// their whole 10 s timeout.
func TestHangingReceiversOfOneTenantDoNotDelayAnother(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	hang := func(_ int, _ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}
	const workers = 20
	var hanging []*receiver
	for range 50 {
		hanging = append(hanging, newReceiverFor(t, []byte(globexSecret), hang))
	}
	healthy := newReceiver(t, nil)
	b := setupWebhooks(t, "", controllers.WebhookConfig{Workers: workers, Gate: controllers.DefaultGate(workers),
		Sender: &webhook.Sender{Timeout: 10 * time.Second, Destinations: loopback}})
	t.Cleanup(func() { close(release) }) // before the River client stops
	for _, rc := range hanging {
		b.createBotFor(t, "globex", rc.url)
	}
	busy := func() int {
		n := 0
		for _, rc := range hanging {
			n += len(rc.deliveries())
		}
		return n
	}
	require.Eventually(t, func() bool { return busy() == workers/4 }, 10*time.Second, 10*time.Millisecond,
		"globex holds its quarter of the workers")

	sent := map[string]time.Time{}
	for range 20 {
		created := b.createBotFor(t, "acme", healthy.url)
		sent[created.ID.String()] = time.Now()
	}
	require.Eventually(t, func() bool { return len(healthy.deliveries()) == 20 }, 10*time.Second, 10*time.Millisecond)
	var worst time.Duration
	for _, d := range healthy.deliveries() {
		worst = max(worst, d.at.Sub(sent[d.payload.BotID]))
	}
	require.Less(t, worst, 2*time.Second, "acme's slowest delivery (p100 of 20)")
	require.Equal(t, workers/4, busy(), "globex's others wait, parked without a worker")
	t.Logf("acme's slowest of 20 deliveries: %s, with 50 of globex's receivers hanging", worst)
}
