package store_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/controllers"
	"github.com/meeboter/meeboter/hack/devenv/storetest"
	"github.com/meeboter/meeboter/pkg/store"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

type testBundle struct {
	pool  *pgxpool.Pool
	store *store.Store
}

func setup(t *testing.T) (*store.Store, *testBundle) {
	t.Helper()
	pool := storetest.NewPool(t)
	client, err := controllers.NewInsertClient(pool)
	require.NoError(t, err)
	st := store.New(pool, controllers.NewEnqueuer(client))
	return st, &testBundle{pool: pool, store: st}
}

func newBot(owner string) store.NewBot {
	return store.NewBot{Owner: owner, MeetingURL: "https://meet.google.com/abc-defg-hij", MeetingPlatform: "google-meet",
		BotName: "Meeboter", Metadata: json.RawMessage(`{"k":"v"}`)}
}

func render(b store.Bot) ([]byte, error) { return json.Marshal(map[string]any{"id": b.ID}) }

func (b *testBundle) create(t *testing.T, owner string) store.Bot {
	t.Helper()
	res, err := b.store.CreateBot(context.Background(), newBot(owner), nil, t0, render)
	require.NoError(t, err)
	return res.Bot
}

// reconcileJobs counts reconcile jobs of a bot that are not finished.
func (b *testBundle) reconcileJobs(t *testing.T, id uuid.UUID) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job
		WHERE kind = 'reconcile_bot' AND args->>'bot_id' = $1 AND state IN ('available', 'scheduled', 'running', 'retryable', 'pending')`,
		id.String()).Scan(&n))
	return n
}

func (b *testBundle) count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

func TestCreateBotInsertsReconcileJobInSameTransaction(t *testing.T) {
	t.Parallel()
	_, bundle := setup(t)
	bot := bundle.create(t, "acme")
	require.Equal(t, store.StatusQueued, bot.Status)
	require.Equal(t, 1, bundle.reconcileJobs(t, bot.ID))

	// A failing render rolls everything back: no bot, no job.
	_, err := bundle.store.CreateBot(context.Background(), newBot("acme"), nil, t0, func(store.Bot) ([]byte, error) {
		return nil, context.Canceled
	})
	require.Error(t, err)
	require.Equal(t, 1, bundle.count(t, `SELECT count(*) FROM bots`))
	require.Equal(t, 1, bundle.count(t, `SELECT count(*) FROM river_job WHERE kind = 'reconcile_bot'`))
}

func TestCreateBotScheduledWhenJoinAtInFuture(t *testing.T) {
	t.Parallel()
	st, _ := setup(t)
	nb := newBot("acme")
	nb.JoinAt = new(t0.Add(time.Hour))
	res, err := st.CreateBot(context.Background(), nb, nil, t0, render)
	require.NoError(t, err)
	require.Equal(t, store.StatusScheduled, res.Bot.Status)
	require.Nil(t, res.Bot.QueuedAt)
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	st, bundle := setup(t)
	ctx := context.Background()
	idem := &store.Idempotency{Key: "k1", RequestHash: []byte("h1")}
	first, err := st.CreateBot(ctx, newBot("acme"), idem, t0, render)
	require.NoError(t, err)
	require.False(t, first.Replayed)

	again, err := st.CreateBot(ctx, newBot("acme"), idem, t0, render)
	require.NoError(t, err)
	require.True(t, again.Replayed)
	require.JSONEq(t, string(first.Response), string(again.Response))

	_, err = st.CreateBot(ctx, newBot("acme"), &store.Idempotency{Key: "k1", RequestHash: []byte("other")}, t0, render)
	require.ErrorIs(t, err, store.ErrIdempotencyMismatch)

	// Keys are per tenant.
	other, err := st.CreateBot(ctx, newBot("globex"), idem, t0, render)
	require.NoError(t, err)
	require.False(t, other.Replayed)
	require.Equal(t, 2, bundle.count(t, `SELECT count(*) FROM bots`))
}

func TestIdempotencyKeyConcurrentCreatesOneBot(t *testing.T) {
	t.Parallel()
	st, bundle := setup(t)
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = st.CreateBot(context.Background(), newBot("acme"), &store.Idempotency{Key: "same", RequestHash: []byte("h")}, t0, render)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			require.ErrorIs(t, err, store.ErrIdempotencyInFlight)
		}
	}
	require.Equal(t, 1, bundle.count(t, `SELECT count(*) FROM bots`))
}

func TestAdmitHonoursLimitFIFOAndConcurrency(t *testing.T) {
	t.Parallel()
	st, bundle := setup(t)
	ctx := context.Background()
	var ids []uuid.UUID
	for range 30 {
		ids = append(ids, bundle.create(t, "acme").ID)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var admitted []uuid.UUID
	for range 8 {
		wg.Go(func() {
			got, err := st.Admit(ctx, store.PlatformLimit{Platform: "local", Limit: 10}, t0)
			require.NoError(t, err)
			mu.Lock()
			admitted = append(admitted, got...)
			mu.Unlock()
		})
	}
	wg.Wait()
	require.Len(t, admitted, 10, "eight concurrent admissions never exceed the limit")
	require.ElementsMatch(t, ids[:10], admitted, "oldest first")
	require.Equal(t, 10, bundle.count(t, `SELECT count(*) FROM deployments WHERE state = 'PENDING'`))
	require.Equal(t, 20, bundle.count(t, `SELECT count(*) FROM bots WHERE status = 'QUEUED'`))

	// Capacity comes back only when a deployment is gone.
	require.NoError(t, st.MarkGone(ctx, ids[0], 1, t0))
	got, err := st.Admit(ctx, store.PlatformLimit{Platform: "local", Limit: 10}, t0)
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{ids[10]}, got)
}

// admitOne admits a single fresh bot and gives it a token.
func (b *testBundle) admitOne(t *testing.T, token string) store.Bot {
	t.Helper()
	ctx := context.Background()
	bot := b.create(t, "acme")
	got, err := b.store.Admit(ctx, store.PlatformLimit{Platform: "local", Limit: 1000}, t0)
	require.NoError(t, err)
	require.Contains(t, got, bot.ID)
	storetest.BeginCreate(t, b.store, bot.ID, 1, token, t0)
	require.NoError(t, b.store.MarkRunning(ctx, bot.ID, 1, "123", t0))
	return bot
}

func TestBotAuthentication(t *testing.T) {
	t.Parallel()
	st, bundle := setup(t)
	ctx := context.Background()
	a := bundle.admitOne(t, "token-a")
	b := bundle.admitOne(t, "token-b")

	auth, err := st.AuthenticateBot(ctx, "token-a", a.ID)
	require.NoError(t, err)
	require.Equal(t, store.BotAuth{BotID: a.ID, Attempt: 1, Status: store.StatusDeploying, Deployment: store.DeploymentRunning}, auth)

	_, err = st.AuthenticateBot(ctx, "nope", a.ID)
	require.ErrorIs(t, err, store.ErrUnauthenticated)
	_, err = st.AuthenticateBot(ctx, "token-a", b.ID)
	require.ErrorIs(t, err, store.ErrForbidden, "another bot's id is refused")

	// A new attempt makes the old token stale, for every bot call.
	retried, err := st.RetryAttempt(ctx, a.ID, 1, t0)
	require.NoError(t, err)
	require.True(t, retried)
	_, err = st.AuthenticateBot(ctx, "token-a", a.ID)
	require.ErrorIs(t, err, store.ErrStaleAttempt)
	_, err = st.Heartbeat(ctx, "token-a", a.ID, t0)
	require.ErrorIs(t, err, store.ErrStaleAttempt)
	_, err = st.ReportStatus(ctx, store.BotAuth{BotID: a.ID, Attempt: 1}, store.StatusInCall, "", t0)
	require.ErrorIs(t, err, store.ErrStaleAttempt)
}

func TestReportStatusRules(t *testing.T) {
	t.Parallel()
	st, bundle := setup(t)
	ctx := context.Background()
	bot := bundle.admitOne(t, "tok")
	auth := store.BotAuth{BotID: bot.ID, Attempt: 1}
	for _, s := range []store.Status{store.StatusJoiningCall, store.StatusInCall, store.StatusInCall, store.StatusLeaving} {
		got, err := st.ReportStatus(ctx, auth, s, "", t0.Add(time.Minute))
		require.NoError(t, err)
		require.Equal(t, s, got.Status)
	}
	_, err := st.ReportStatus(ctx, auth, store.StatusInCall, "", t0)
	require.ErrorIs(t, err, store.ErrConflict, "LEAVING is sticky")

	done, err := st.ReportStatus(ctx, auth, store.StatusDone, "", t0.Add(2*time.Minute))
	require.NoError(t, err)
	require.Equal(t, store.StatusDone, done.Status)
	require.Equal(t, store.ReasonCompleted, *done.StatusReason)
	require.Equal(t, t0.Add(2*time.Minute), done.EndedAt.UTC())
	require.NotNil(t, done.JoinedAt)

	_, err = st.ReportStatus(ctx, auth, store.StatusFatal, "", t0)
	require.ErrorIs(t, err, store.ErrConflict, "DONE is absorbing")
	finished, err := st.FinishBot(ctx, bot.ID, store.StatusFatal, store.ReasonHeartbeat, t0)
	require.NoError(t, err)
	require.False(t, finished, "FinishBot does not move a terminal bot either")

	_, err = st.Heartbeat(ctx, "tok", bot.ID, t0.Add(3*time.Minute))
	require.ErrorIs(t, err, store.ErrBotEnded, "a terminal bot's token is fenced")
	again, _, err := st.LoadBot(ctx, bot.ID)
	require.NoError(t, err)
	require.Equal(t, t0.Add(time.Minute), again.LastHeartbeatAt.UTC(), "a terminal bot's heartbeat is not refreshed")
}

func TestRequestStop(t *testing.T) {
	t.Parallel()
	st, bundle := setup(t)
	ctx := context.Background()
	bot := bundle.create(t, "acme")
	_, err := st.RequestStop(ctx, "globex", bot.ID, store.StopCancel, t0)
	require.ErrorIs(t, err, store.ErrNotFound, "another tenant's bot is not found")

	left, err := st.RequestStop(ctx, "acme", bot.ID, store.StopLeave, t0)
	require.NoError(t, err)
	require.Equal(t, store.DesiredStopped, left.Desired)
	require.Equal(t, store.StopLeave, *left.StopMode)
	require.Equal(t, bot.Generation+1, left.Generation)

	cancelled, err := st.RequestStop(ctx, "acme", bot.ID, store.StopCancel, t0.Add(time.Second))
	require.NoError(t, err)
	require.Equal(t, store.StopCancel, *cancelled.StopMode, "cancel overrides leave")
	require.Equal(t, t0, cancelled.StopRequestedAt.UTC())

	again, err := st.RequestStop(ctx, "acme", bot.ID, store.StopLeave, t0.Add(2*time.Second))
	require.NoError(t, err)
	require.Equal(t, store.StopCancel, *again.StopMode, "leave does not downgrade a cancel")
	require.Equal(t, cancelled.Generation, again.Generation)
}

func TestOneLiveDeploymentPerBotIsEnforcedByTheDatabase(t *testing.T) {
	t.Parallel()
	_, bundle := setup(t)
	bot := bundle.admitOne(t, "tok")
	_, err := bundle.pool.Exec(context.Background(), `INSERT INTO deployments (bot_id, attempt, platform, name, state, created_at, updated_at)
		VALUES ($1, 2, 'local', 'x', 'PENDING', now(), now())`, bot.ID)
	require.ErrorContains(t, err, "deployments_one_live_per_bot")
}

// runJob makes the bot's reconcile job running, as River's fetch would, and
// returns its run.
func (b *testBundle) runJob(t *testing.T, id uuid.UUID) store.JobRun {
	t.Helper()
	var run store.JobRun
	require.NoError(t, b.pool.QueryRow(context.Background(), `UPDATE river_job SET state = 'running', attempt = attempt + 1,
			attempted_at = now() WHERE kind = 'reconcile_bot' AND args->>'bot_id' = $1 AND state = 'available'
		RETURNING id, attempt`, id.String()).Scan(&run.ID, &run.Attempt))
	return run
}

func (b *testBundle) jobState(t *testing.T, run store.JobRun) string {
	t.Helper()
	var state string
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT state FROM river_job WHERE id = $1`, run.ID).Scan(&state))
	return state
}

func TestSettleReconcile(t *testing.T) {
	t.Parallel()
	st, bundle := setup(t)
	ctx := context.Background()
	bot := bundle.create(t, "acme")
	run := bundle.runJob(t, bot.ID)

	// Another run of the job (fetched again after a requeue) settles it,
	// not this stale one.
	stale := store.JobRun{ID: run.ID, Attempt: run.Attempt - 1}
	changed, err := st.SettleReconcile(ctx, store.Settle{Bot: bot.ID, Revision: bot.Revision - 1, Job: stale})
	require.NoError(t, err)
	require.False(t, changed)
	require.Equal(t, "running", bundle.jobState(t, run))

	changed, err = st.SettleReconcile(ctx, store.Settle{Bot: bot.ID, Revision: bot.Revision, Job: run})
	require.NoError(t, err)
	require.False(t, changed)
	require.Equal(t, "completed", bundle.jobState(t, run))

	// A write during the reconcile is seen: nothing is completed, the
	// reconcile runs again.
	_, err = st.RequestStop(ctx, "acme", bot.ID, store.StopCancel, t0)
	require.NoError(t, err)
	run = bundle.runJob(t, bot.ID)
	changed, err = st.SettleReconcile(ctx, store.Settle{Bot: bot.ID, Revision: bot.Revision, Job: run})
	require.NoError(t, err)
	require.True(t, changed, "a write during the reconcile is seen")
	require.Equal(t, "running", bundle.jobState(t, run))

	// The next check moves with the completion, only from the value read.
	bot, _, err = st.LoadBot(ctx, bot.ID)
	require.NoError(t, err)
	next := t0.Add(time.Hour)
	changed, err = st.SettleReconcile(ctx, store.Settle{Bot: bot.ID, Revision: bot.Revision, Job: run,
		MoveNext: true, NextCheck: new(t0.Add(time.Second)), Next: &next})
	require.NoError(t, err)
	require.True(t, changed, "the next check moved since it was read")
	require.Equal(t, "running", bundle.jobState(t, run))
	changed, err = st.SettleReconcile(ctx, store.Settle{Bot: bot.ID, Revision: bot.Revision, Job: run,
		MoveNext: true, NextCheck: bot.NextCheckAt, Next: &next})
	require.NoError(t, err)
	require.False(t, changed)
	require.Equal(t, "completed", bundle.jobState(t, run))
	bot, _, err = st.LoadBot(ctx, bot.ID)
	require.NoError(t, err)
	require.WithinDuration(t, next, *bot.NextCheckAt, 0)
}

func TestEnqueueDue(t *testing.T) {
	t.Parallel()
	st, bundle := setup(t)
	ctx := context.Background()
	a, b := bundle.create(t, "acme"), bundle.create(t, "acme")
	require.NoError(t, st.SetNextCheck(ctx, a.ID, new(t0.Add(time.Minute))))
	require.NoError(t, st.SetNextCheck(ctx, b.ID, nil))
	_, err := bundle.pool.Exec(ctx, `DELETE FROM river_job`)
	require.NoError(t, err)

	n, err := st.EnqueueDue(ctx, t0, 100)
	require.NoError(t, err)
	require.Zero(t, n)
	n, err = st.EnqueueDue(ctx, t0.Add(time.Minute), 100)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, 1, bundle.reconcileJobs(t, a.ID))
	require.Zero(t, bundle.reconcileJobs(t, b.ID))
}

func TestMigrateIsIdempotent(t *testing.T) {
	t.Parallel()
	_, bundle := setup(t)
	res, err := store.Migrate(context.Background(), bundle.pool)
	require.NoError(t, err)
	require.Empty(t, res.Applied)
	require.Empty(t, res.RiverApplied)
}

// QueuedBy holds back the unreserved bots queued after it: the platforms
// after the first in priority get only what the first ones saw.
func TestAdmitQueuedBy(t *testing.T) {
	t.Parallel()
	st, b := setup(t)
	ctx := context.Background()
	bot := b.create(t, "acme") // queued at t0
	got, err := st.Admit(ctx, store.PlatformLimit{Platform: "fallback", Limit: 10, QueuedBy: t0.Add(-time.Second)}, t0)
	require.NoError(t, err)
	require.Empty(t, got, "queued after the pass began")
	got, err = st.Admit(ctx, store.PlatformLimit{Platform: "fallback", Limit: 10, QueuedBy: t0}, t0)
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{bot.ID}, got)
}
