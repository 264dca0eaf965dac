package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/store"
)

func TestEveryCreateTryOfAnAttemptGetsTheFirstToken(t *testing.T) {
	t.Parallel()
	st, bundle := setup(t)
	ctx := context.Background()
	bot := bundle.create(t, "acme")
	_, err := st.Admit(ctx, store.PlatformLimit{Platform: "local", Limit: 10}, t0)
	require.NoError(t, err)

	first, err := st.BeginCreate(ctx, bot.ID, 1, "tok-1", t0)
	require.NoError(t, err)
	require.Equal(t, store.Creation{Token: "tok-1"}, first)
	// The create failed ambiguously; the retry offers a new token, and is
	// given the first one: whatever the first try made holds it.
	_, err = st.RecordDeployError(ctx, bot.ID, 1, "500 after create", t0.Add(time.Second), t0)
	require.NoError(t, err)
	again, err := st.BeginCreate(ctx, bot.ID, 1, "tok-2", t0.Add(time.Second))
	require.NoError(t, err)
	require.Equal(t, first, again)
	_, err = st.AuthenticateBot(ctx, "tok-1", bot.ID)
	require.NoError(t, err, "the first token works")
	_, err = st.AuthenticateBot(ctx, "tok-2", bot.ID)
	require.ErrorIs(t, err, store.ErrUnauthenticated)

	// A capacity refusal created nothing: the next try is a new one.
	require.NoError(t, st.RecordCapacityWait(ctx, bot.ID, 1, "RESOURCE:MEMORY", t0.Add(3*time.Second), t0.Add(time.Second)))
	third, err := st.BeginCreate(ctx, bot.ID, 1, "tok-3", t0.Add(3*time.Second))
	require.NoError(t, err)
	require.Equal(t, store.Creation{Token: "tok-1", Try: 1}, third)

	// The bot reports while its create is still being retried (the answer
	// that carried its task's id was lost): a retry may still come, with
	// the same token. Once the create is recorded, the token is dropped.
	_, err = st.ReportStatus(ctx, store.BotAuth{BotID: bot.ID, Attempt: 1}, store.StatusJoiningCall, "", t0)
	require.NoError(t, err)
	fourth, err := st.BeginCreate(ctx, bot.ID, 1, "tok-4", t0.Add(4*time.Second))
	require.NoError(t, err)
	require.Equal(t, third, fourth)
	require.NoError(t, st.MarkRunning(ctx, bot.ID, 1, "ext", t0))
	_, d, err := st.LoadBot(ctx, bot.ID)
	require.NoError(t, err)
	require.Nil(t, d.PendingToken)
}

func TestProgressMovesOnWithoutWakingAndExitedStaysExited(t *testing.T) {
	t.Parallel()
	st, bundle := setup(t)
	ctx := context.Background()
	bot := bundle.admitOne(t, "tok")
	load := func() store.Deployment {
		_, d, err := st.LoadBot(ctx, bot.ID)
		require.NoError(t, err)
		return *d
	}
	d := load()
	require.Equal(t, t0, d.ProgressAt.UTC(), "a create is progress")
	pending := store.Observation{Observed: store.ObservedPending, Progress: true}

	// Still pending 10 s later: within the refresh period, nothing is written.
	changed, err := st.RecordObservation(ctx, d, pending, time.Minute, t0.Add(10*time.Second))
	require.NoError(t, err)
	require.False(t, changed)
	require.Equal(t, t0, load().ProgressAt.UTC())
	// Two minutes later: progress moves on, nobody is woken.
	changed, err = st.RecordObservation(ctx, d, pending, time.Minute, t0.Add(2*time.Minute))
	require.NoError(t, err)
	require.False(t, changed, "a refresh changes no decision")
	require.Equal(t, t0.Add(2*time.Minute), load().ProgressAt.UTC())

	changed, err = st.RecordObservation(ctx, load(), store.Observation{Observed: store.ObservedExited}, time.Minute, t0.Add(3*time.Minute))
	require.NoError(t, err)
	require.True(t, changed)
	changed, err = st.RecordObservation(ctx, load(), store.Observation{Observed: store.ObservedRunning}, time.Minute, t0.Add(4*time.Minute))
	require.NoError(t, err)
	require.False(t, changed)
	require.Equal(t, store.ObservedExited, *load().Observed, "an ended attempt never comes back to life")
}

func TestFetchConfigAfterTheMeetingBeganMeansARestart(t *testing.T) {
	t.Parallel()
	st, bundle := setup(t)
	ctx := context.Background()
	bot := bundle.admitOne(t, "tok")
	auth := store.BotAuth{BotID: bot.ID, Attempt: 1}

	_, restarted, err := st.FetchConfig(ctx, auth, t0)
	require.NoError(t, err)
	require.False(t, restarted, "the first fetch, and any before the first status, are a start")
	_, restarted, err = st.FetchConfig(ctx, auth, t0)
	require.NoError(t, err)
	require.False(t, restarted)

	for _, s := range []store.Status{store.StatusJoiningCall, store.StatusInCall} {
		_, err = st.ReportStatus(ctx, auth, s, "", t0)
		require.NoError(t, err)
	}
	_, restarted, err = st.FetchConfig(ctx, auth, t0.Add(time.Minute))
	require.NoError(t, err)
	require.True(t, restarted)
	got, err := st.GetBot(ctx, "acme", bot.ID)
	require.NoError(t, err)
	require.Equal(t, store.StatusFatal, got.Status)
	require.Equal(t, store.ReasonContainerRestarted, *got.StatusReason)
}

func TestSessionLocksDieWithTheSession(t *testing.T) {
	t.Parallel()
	st, bundle := setup(t)
	ctx := context.Background()
	newSession := func(identity string) (*store.Session, context.CancelFunc) {
		s, err := store.NewSession(store.SessionConfig{Conn: bundle.pool.Config().ConnConfig, Identity: identity,
			PingInterval: 50 * time.Millisecond})
		require.NoError(t, err)
		sctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { s.Run(sctx); close(done) }()
		<-s.Ready()
		t.Cleanup(func() { cancel(); <-done })
		return s, func() { cancel(); <-done }
	}
	a, endA := newSession("replica-a@00000001")
	b, _ := newSession("replica-b@00000002")

	alive, err := st.ReplicasAlive(ctx, []string{"replica-a@00000001", "replica-b@00000002", "replica-c@00000003"})
	require.NoError(t, err)
	require.Equal(t, map[string]bool{"replica-a@00000001": true, "replica-b@00000002": true}, alive)

	lock, ok, err := a.TryLock("meeboter-bot:1")
	require.NoError(t, err)
	require.True(t, ok)
	_, ok, err = b.TryLock("meeboter-bot:1")
	require.NoError(t, err)
	require.False(t, ok, "held by a")

	// Another connection kills a's backend, as a crash would end it.
	_, err = bundle.pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = 'meeboter replica-a@00000001'`)
	require.NoError(t, err)
	select {
	case <-lock.Lost():
	case <-time.After(10 * time.Second):
		t.Fatal("the lock was not reported lost with its connection")
	}
	// The backend releases its locks as it exits, a moment after the
	// connection closed.
	var lockB *store.Lock
	require.Eventually(t, func() bool {
		lockB, ok, err = b.TryLock("meeboter-bot:1")
		return err == nil && ok
	}, 5*time.Second, 10*time.Millisecond, "released with the dead session")
	lockB.Release()
	lock.Release() // lost already: a no-op

	// a reconnects with its identity; ended for good, it is dead.
	require.Eventually(t, func() bool {
		alive, err := st.ReplicasAlive(ctx, []string{"replica-a@00000001"})
		return err == nil && alive["replica-a@00000001"]
	}, 10*time.Second, 20*time.Millisecond)
	endA()
	// Its backend releases the identity as it exits, a moment after the close.
	require.Eventually(t, func() bool {
		alive, err := st.ReplicasAlive(ctx, []string{"replica-a@00000001"})
		return err == nil && len(alive) == 0
	}, 5*time.Second, 10*time.Millisecond, "a closed session is dead")
}

func TestRequeueJobsOfADeadReplica(t *testing.T) {
	t.Parallel()
	st, bundle := setup(t)
	ctx := context.Background()
	bundle.create(t, "acme")
	bundle.create(t, "acme")
	// Both reconcile jobs were taken by a replica that then died; a third
	// replica works its own.
	_, err := bundle.pool.Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now(),
		attempted_by = ARRAY['dead@0000000a'] WHERE kind = 'reconcile_bot'`)
	require.NoError(t, err)
	_, err = bundle.pool.Exec(ctx, `UPDATE river_job SET attempted_by = ARRAY['dead@0000000a', 'alive@0000000b']
		WHERE id = (SELECT min(id) FROM river_job WHERE kind = 'reconcile_bot')`)
	require.NoError(t, err)

	workers, err := st.RunningJobWorkers(ctx)
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"dead@0000000a", "alive@0000000b"}, workers)
	n, err := st.RequeueJobsOf(ctx, []string{"dead@0000000a"}, time.Now())
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "only the job its last attempt is on")
	rows, _ := bundle.pool.Query(ctx, `SELECT state::text, coalesce(cardinality(errors), 0) FROM river_job WHERE kind = 'reconcile_bot' ORDER BY id`)
	type job struct {
		State  string
		Errors int
	}
	jobs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[job])
	require.NoError(t, err)
	require.Equal(t, []job{{"running", 0}, {"available", 1}}, jobs)
}

// A platform's reason code is recorded on the bot's timeline with the
// change it came with, once: it outlives the platform's own records.
func TestObservationCodeGoesOnTheTimeline(t *testing.T) {
	t.Parallel()
	st, bundle := setup(t)
	ctx := context.Background()
	bot := bundle.admitOne(t, "tok")
	_, d, err := st.LoadBot(ctx, bot.ID)
	require.NoError(t, err)
	oom := store.Observation{Observed: store.ObservedExited, ExitCode: new(137), Code: "oom_killed"}
	changed, err := st.RecordObservation(ctx, *d, oom, time.Minute, t0.Add(time.Minute))
	require.NoError(t, err)
	require.True(t, changed)
	_, d, err = st.LoadBot(ctx, bot.ID)
	require.NoError(t, err)
	changed, err = st.RecordObservation(ctx, *d, oom, time.Minute, t0.Add(2*time.Minute))
	require.NoError(t, err)
	require.False(t, changed)

	events, err := st.ListEvents(ctx, "acme", bot.ID, 0, 100)
	require.NoError(t, err)
	var observed []map[string]any
	for _, e := range events {
		if e.Type == store.EventWorkloadObserved {
			var data map[string]any
			require.NoError(t, json.Unmarshal(e.Data, &data))
			require.Equal(t, store.SourceController, e.Source)
			observed = append(observed, data)
		}
	}
	require.Equal(t, []map[string]any{{"attempt": float64(1), "platform": "local", "observed": "exited",
		"exit_code": float64(137), "reason": "oom_killed"}}, observed)
}
