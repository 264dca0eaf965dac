package controllers_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/meeboter/meeboter/controllers"
	"github.com/meeboter/meeboter/controllers/bot"
	"github.com/meeboter/meeboter/hack/devenv/pgtest"
	"github.com/meeboter/meeboter/hack/devenv/storetest"
	"github.com/meeboter/meeboter/pkg/botproto"
	"github.com/meeboter/meeboter/pkg/clock"
	"github.com/meeboter/meeboter/pkg/platform"
	"github.com/meeboter/meeboter/pkg/platform/platformtest"
	"github.com/meeboter/meeboter/pkg/store"
)

// markedWorker is the production reconcile worker, its statements marked
// for the counter: River's own (fetch, batch completion, maintenance) are
// shared by every job and not counted.
type markedWorker struct {
	*controllers.ReconcileWorker
	runs *atomic.Int32
}

func (w markedWorker) Work(ctx context.Context, job *river.Job[controllers.ReconcileArgs]) error {
	w.runs.Add(1)
	return w.ReconcileWorker.Work(pgtest.Mark(ctx), job)
}

// inCallBundle is one bot in a call, beating, reconciled by the production
// worker and reconciler through a real River client, on a pool whose
// statements are counted.
type inCallBundle struct {
	pool      *pgxpool.Pool
	st        *store.Store
	counter   *pgtest.QueryCounter
	completed <-chan *river.Event
	runs      *atomic.Int32 // reconciles run
	fake      *platformtest.Fake
	bot       uuid.UUID
	token     string
}

func setupInCall(t *testing.T) *inCallBundle {
	t.Helper()
	ctx := context.Background()
	sessionID := controllers.ClientID("idle-test")
	// Counted: the worker's statements, and every statement on the
	// replica's session connection (the bot's lock), which runs them on a
	// context of its own.
	counter := &pgtest.QueryCounter{Filter: func(ctx context.Context, conn *pgx.Conn) bool {
		return pgtest.Marked(ctx, conn) || conn.Config().RuntimeParams["application_name"] == "meeboter "+sessionID
	}}
	pool := storetest.NewPoolWith(t, func(cfg *pgxpool.Config) { cfg.ConnConfig.Tracer = counter })
	inserter, err := controllers.NewInsertClient(pool)
	require.NoError(t, err)
	st := store.New(pool, controllers.NewEnqueuer(inserter))
	fake := &platformtest.Fake{}
	reconciler := &bot.Reconciler{Store: st, Platforms: map[string]platform.Platform{fake.Name(): fake}, Clock: clock.Wall{},
		Logger: zap.NewNop(), Config: bot.Config{HeartbeatTimeout: 5 * time.Minute, DeployTimeout: time.Minute,
			LeaveTimeout: time.Minute, MaxBotLifetime: time.Hour, QueueTimeout: time.Minute, MaxAttempts: 3,
			MaxCreateErrors: 5, MissingGrace: 10 * time.Second, StopRecheck: time.Minute}}
	workers := river.NewWorkers()
	runs := &atomic.Int32{}
	river.AddWorker(workers, markedWorker{&controllers.ReconcileWorker{Reconciler: reconciler, Store: st,
		Locks: storetest.NewSession(t, pool, sessionID)}, runs})
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues:  map[string]river.QueueConfig{controllers.QueueReconcile: {MaxWorkers: 5}},
		Workers: workers, FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond, TestOnly: true,
	})
	require.NoError(t, err)
	completed, cancel := client.Subscribe(river.EventKindJobCompleted)
	t.Cleanup(cancel)
	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() { _ = client.Stop(context.Background()) })
	b := &inCallBundle{pool: pool, st: st, counter: counter, completed: completed, runs: runs, fake: fake}

	// Created, admitted, deployed by the reconciler, in the call, beating.
	res, err := st.CreateBot(ctx, store.NewBot{Owner: "acme", MeetingURL: "https://meet.google.com/abc-defg-hij",
		MeetingPlatform: "google-meet", BotName: "b"}, nil, time.Now(), func(b store.Bot) ([]byte, error) { return json.Marshal(b.ID) })
	require.NoError(t, err)
	b.bot = res.Bot.ID
	// Admission skips a bot row locked at that instant (its first reconcile
	// settling): ask until it is admitted, as the admission loop would.
	require.Eventually(t, func() bool {
		admitted, err := st.Admit(ctx, store.PlatformLimit{Platform: fake.Name(), Limit: 10, Lifetime: 2 * time.Hour}, time.Now())
		require.NoError(t, err)
		return len(admitted) == 1
	}, 10*time.Second, 10*time.Millisecond)
	require.Eventually(t, func() bool { return len(fake.Created()) == 1 }, 10*time.Second, 10*time.Millisecond)
	b.token = fake.Created()[0].Env[botproto.EnvAuthToken]
	auth, err := st.AuthenticateBot(ctx, b.token, b.bot)
	require.NoError(t, err)
	_, err = st.ReportStatus(ctx, auth, store.StatusInCall, "", time.Now())
	require.NoError(t, err)
	b.settle(t)
	return b
}

// settle waits until the bot has no reconcile job left unfinished.
func (b *inCallBundle) settle(t *testing.T) {
	t.Helper()
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job
			WHERE kind = 'reconcile_bot' AND state NOT IN ('completed', 'discarded', 'cancelled')`).Scan(&n))
		return n == 0
	}, 10*time.Second, 10*time.Millisecond)
	for { // drain the events of the jobs so far
		select {
		case <-b.completed:
		default:
			return
		}
	}
}

// wake enqueues a reconcile of the bot, as the resync does, and counts the
// statements of that reconcile alone.
func (b *inCallBundle) wake(t *testing.T) {
	t.Helper()
	b.counter.Reset()
	_, err := b.st.EnqueueDue(context.Background(), time.Now().Add(24*time.Hour), 10)
	require.NoError(t, err)
	select {
	case <-b.completed:
	case <-time.After(10 * time.Second):
		t.Fatal("the reconcile did not complete")
	}
	b.settle(t) // no second run (a snooze) is under way
}

// rowVersions is the bot's and its deployment's row versions (xmin): a row
// written in any way, even to the same values, gets a new one.
func (b *inCallBundle) rowVersions(t *testing.T) [2]string {
	t.Helper()
	var v [2]string
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT b.xmin::text, d.xmin::text FROM bots b
		JOIN deployments d ON d.bot_id = b.id AND d.attempt = b.current_attempt WHERE b.id = $1`, b.bot).Scan(&v[0], &v[1]))
	return v
}

func (b *inCallBundle) report(t *testing.T, what string) {
	t.Helper()
	t.Logf("%s: %d round trips (+%d first-use Parse), writes %v, transactions %d", what, b.counter.Queries(),
		b.counter.Prepares(), b.counter.Written(), b.counter.Transactions())
	for sql, n := range b.counter.Statements() {
		t.Logf("  %d× %.110q", n, sql)
	}
}

// An idle reconcile of a bot in a call (heart-beating, nothing due) costs
// at most two round trips, and writes nothing but its own job's completion:
// not the bot, not its deployment, no event. Before issue 13 it cost nine
// (a revision read, two loads, a four-statement completing transaction and
// the lock's two).
func TestIdleReconcileOfInCallBot(t *testing.T) {
	t.Parallel()
	b := setupInCall(t)
	b.wake(t) // the first one may find the next check to move (see below)
	before := b.rowVersions(t)
	var events int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM bot_events WHERE bot_id = $1`, b.bot).Scan(&events))

	b.wake(t)
	b.report(t, "idle reconcile")
	require.LessOrEqual(t, b.counter.Queries(), 2, "round trips of an idle reconcile: %v", b.counter.Statements())
	require.Zero(t, b.counter.Transactions())
	require.Equal(t, []string{"river_job"}, b.counter.Written(), "an idle reconcile writes only its job's completion")
	require.Equal(t, before, b.rowVersions(t), "the bot and its deployment were not written")
	var after int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM bot_events WHERE bot_id = $1`, b.bot).Scan(&after))
	require.Equal(t, events, after)
}

// The periodic check of a bot in a call (its heartbeat deadline came, and
// later beats moved it) moves the next check in the same two round trips.
func TestHeartbeatCheckOfInCallBot(t *testing.T) {
	t.Parallel()
	b := setupInCall(t)
	b.wake(t)
	_, err := b.st.Heartbeat(context.Background(), b.token, b.bot, time.Now().Add(time.Second))
	require.NoError(t, err)

	b.wake(t)
	b.report(t, "heartbeat check")
	require.LessOrEqual(t, b.counter.Queries(), 2, "round trips of a heartbeat check: %v", b.counter.Statements())
	require.Zero(t, b.counter.Transactions())
	require.Equal(t, []string{"bots", "river_job"}, b.counter.Written())
	got, _, err := b.st.LoadBot(context.Background(), b.bot)
	require.NoError(t, err)
	require.WithinDuration(t, got.LastHeartbeatAt.Add(5*time.Minute), *got.NextCheckAt, 0, "the check moved with the beat")
}

// A reconcile that ends a bot settles on its last read of the bot: its own
// finish (which bumps the revision, as every terminal write does) is no
// reason to run again. A cancel costs one reconcile, not two.
func TestCancelIsOneReconcile(t *testing.T) {
	t.Parallel()
	b := setupInCall(t)
	b.runs.Store(0)
	_, err := b.st.RequestStop(context.Background(), "acme", b.bot, store.StopCancel, time.Now())
	require.NoError(t, err)
	select {
	case <-b.completed:
	case <-time.After(10 * time.Second):
		t.Fatal("the reconcile did not complete")
	}
	b.settle(t)
	got, d, err := b.st.LoadBot(context.Background(), b.bot)
	require.NoError(t, err)
	require.Equal(t, store.StatusDone, got.Status)
	require.Equal(t, store.DeploymentGone, d.State)
	require.Len(t, b.fake.Stopped(), 1)
	require.Equal(t, int32(1), b.runs.Load(), "reconciles of the cancel")
}
