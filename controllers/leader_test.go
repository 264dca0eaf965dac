package controllers_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/meeboter/meeboter/controllers"
	"github.com/meeboter/meeboter/hack/devenv/storetest"
	"github.com/meeboter/meeboter/pkg/clock"
	"github.com/meeboter/meeboter/pkg/store"
)

// A failing periodic pass backs off (its passes come further apart, wake-ups
// are ignored meanwhile) and never stops: there is no job to discard.
func TestLoopBacksOffAndNeverDies(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var at []time.Time
	fails := 5
	passed := make(chan struct{})
	l := controllers.NewLoop("pool", "pool", 10*time.Millisecond, func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		at = append(at, time.Now())
		if len(at) <= fails {
			return errors.New("429 storm")
		}
		if len(at) == fails+1 {
			close(passed)
		}
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { l.Start(ctx, nil, zaptest.NewLogger(t)); close(done) }()
	for range 20 {
		l.Poke() // ignored while backing off
	}
	select {
	case <-passed:
	case <-time.After(10 * time.Second):
		t.Fatal("the loop stopped passing")
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	// Backoff n (jittered to [½, 1] of 10 ms × 2^n): the gap before the
	// fifth pass is at least 80 ms, four times the first failure's.
	require.GreaterOrEqual(t, at[5].Sub(at[4]), 150*time.Millisecond, "gaps %v", gaps(at))
	require.Less(t, at[1].Sub(at[0]), 150*time.Millisecond)
}

// A loop whose next pass is due sooner than its interval (a scheduled
// bot's admission time) runs then, not an interval later.
func TestLoopRunsWhenTheNextPassIsDue(t *testing.T) {
	t.Parallel()
	passes := make(chan time.Time, 3)
	l := controllers.NewLoop("resync", "", time.Hour, func(context.Context) error {
		select {
		case passes <- time.Now():
		default:
		}
		return nil
	})
	l.Next = func() time.Duration { return 200 * time.Millisecond }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go l.Start(ctx, nil, zaptest.NewLogger(t))
	first := <-passes
	select {
	case second := <-passes:
		require.GreaterOrEqual(t, second.Sub(first), 200*time.Millisecond)
	case <-time.After(10 * time.Second):
		t.Fatal("the due pass did not run")
	}
}

func gaps(at []time.Time) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(at); i++ {
		out = append(out, at[i].Sub(at[i-1]).Round(time.Millisecond))
	}
	return out
}

// elector is one replica's election on the shared database.
type elector struct {
	e      *controllers.Elector
	passes atomic.Int32
	// refused is how often it asked for the leadership and did not get it.
	refused atomic.Int32
	stop    context.CancelFunc
	done    chan struct{}
}

// countingLocker counts the elector's refused asks for the leadership.
type countingLocker struct {
	controllers.Locker
	refused *atomic.Int32
}

func (l countingLocker) TryLock(name string) (*store.Lock, bool, error) {
	lock, ok, err := l.Locker.TryLock(name)
	if !ok {
		l.refused.Add(1)
	}
	return lock, ok, err
}

func startElector(t *testing.T, pool *pgxpool.Pool, name string) *elector {
	t.Helper()
	el := &elector{done: make(chan struct{})}
	session := storetest.NewSession(t, pool, name)
	loop := controllers.NewLoop("resync", "", 20*time.Millisecond, func(context.Context) error {
		el.passes.Add(1)
		return nil
	})
	el.e = &controllers.Elector{Config: controllers.LeaderConfig{Retry: 100 * time.Millisecond},
		Locks:  countingLocker{Locker: session, refused: &el.refused},
		Loops:  []*controllers.Loop{loop},
		Listen: func(ctx context.Context, _ func(string)) error { <-ctx.Done(); return ctx.Err() },
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))}
	ctx, cancel := context.WithCancel(context.Background())
	el.stop = cancel
	go func() { el.e.Start(ctx); close(el.done) }()
	t.Cleanup(func() { cancel(); <-el.done })
	return el
}

// Leadership is an advisory lock on the replica's session: when that
// session dies (the process died, or Postgres ended it), a follower leads
// within about a second, and its loops run.
func TestLeadershipMovesWhenTheLeadersSessionDies(t *testing.T) {
	t.Parallel()
	pool := storetest.NewPool(t)
	a := startElector(t, pool, "a@0000000a")
	require.Eventually(t, a.e.Leading, 5*time.Second, 5*time.Millisecond)
	b := startElector(t, pool, "b@0000000b")
	require.Eventually(t, func() bool { return a.passes.Load() > 3 }, 5*time.Second, 5*time.Millisecond)
	// b asks three times meanwhile, and is refused (or, wrongly, leads).
	require.Eventually(t, func() bool { return b.refused.Load() >= 3 || b.e.Leading() }, 10*time.Second, 5*time.Millisecond)
	require.False(t, b.e.Leading(), "one leader")
	require.Zero(t, b.passes.Load(), "a follower runs no leader loop")

	_, err := pool.Exec(context.Background(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = 'meeboter a@0000000a'`)
	require.NoError(t, err)
	lost := time.Now()
	require.Eventually(t, b.e.Leading, 5*time.Second, 5*time.Millisecond)
	require.Less(t, time.Since(lost), 3*time.Second)
	require.Eventually(t, func() bool { return b.passes.Load() > 0 }, 5*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return !a.e.Leading() }, 5*time.Second, 5*time.Millisecond)

	// b stops (a replica shutting down): a, reconnected, leads again.
	b.stop()
	<-b.done
	require.False(t, b.e.Leading())
	require.Eventually(t, a.e.Leading, 5*time.Second, 5*time.Millisecond)
}

// The running job of a replica that died (its session is gone) is made
// available at once and worked by a live replica; a live replica's running
// job is left alone.
func TestSweeperRequeuesTheJobsOfADeadReplica(t *testing.T) {
	t.Parallel()
	rec := &recordingReconciler{running: map[uuid.UUID]int{}}
	st, pool, completed := startWorkerOn(t, rec)
	dead, alive := createBot(t, st), createBot(t, st)
	liveID := controllers.ClientID("alive")
	storetest.NewSession(t, pool, liveID)
	// Once their first reconciles are over, both bots' next ones are
	// fetched by replicas: one that then died, one that still works it.
	// River's completer marks a job completed once more after the worker
	// did (it only touches running jobs): wait for both before tampering,
	// or it would complete the job the test just made running.
	for range 2 {
		select {
		case <-completed:
		case <-time.After(10 * time.Second):
			t.Fatal("the first reconciles did not complete")
		}
	}
	require.Equal(t, 1, rec.count(dead.ID))
	require.Equal(t, 1, rec.count(alive.ID))
	for id, worker := range map[uuid.UUID]string{dead.ID: "dead@0000beef", alive.ID: liveID} {
		require.Eventually(t, func() bool {
			tag, err := pool.Exec(context.Background(), `UPDATE river_job SET state = 'running', attempt = 1, attempted_at = now(),
				finalized_at = NULL, attempted_by = ARRAY[$2] WHERE kind = 'reconcile_bot' AND args->>'bot_id' = $1
				AND state = 'completed'`, id.String(), worker)
			return err == nil && tag.RowsAffected() == 1
		}, 10*time.Second, 10*time.Millisecond)
	}
	sweeper := &controllers.JobSweeper{Store: st, Clock: clock.Wall{}, Logger: zaptest.NewLogger(t)}
	n, err := sweeper.RunOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Eventually(t, func() bool { return rec.count(dead.ID) == 2 }, 10*time.Second, 10*time.Millisecond,
		"the dead replica's reconcile ran again")
	var state string
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT state FROM river_job WHERE args->>'bot_id' = $1`,
		alive.ID.String()).Scan(&state))
	require.Equal(t, "running", state)
	require.Equal(t, 1, rec.count(alive.ID))
}

// startWorkerOn is startWorker that also returns the pool and River's
// job-completed events.
func startWorkerOn(t *testing.T, rec *recordingReconciler) (*store.Store, *pgxpool.Pool, <-chan *river.Event) {
	t.Helper()
	pool := storetest.NewPool(t)
	inserter, err := controllers.NewInsertClient(pool)
	require.NoError(t, err)
	st := store.New(pool, controllers.NewEnqueuer(inserter))
	rec.store = st
	workers := river.NewWorkers()
	river.AddWorker(workers, &controllers.ReconcileWorker{Reconciler: rec, Store: st,
		Locks: storetest.NewSession(t, pool, controllers.ClientID("worker"))})
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Queues:  map[string]river.QueueConfig{controllers.QueueReconcile: {MaxWorkers: 5}},
		Workers: workers, FetchCooldown: 5 * time.Millisecond, FetchPollInterval: 20 * time.Millisecond, TestOnly: true,
	})
	require.NoError(t, err)
	completed, cancel := client.Subscribe(river.EventKindJobCompleted)
	t.Cleanup(cancel)
	require.NoError(t, client.Start(context.Background()))
	t.Cleanup(func() { _ = client.Stop(context.Background()) })
	return st, pool, completed
}

// A wake-up sent after a new leader's first passes but before its LISTEN
// took effect is lost; store.WakeAll, which Listen hands over once it
// listens, pokes every loop, so none waits for its period.
func TestWakeAllPokesEveryLoop(t *testing.T) {
	t.Parallel()
	pool := storetest.NewPool(t)
	passes := map[string]chan struct{}{"admit": make(chan struct{}, 10), "pool": make(chan struct{}, 10)}
	var loops []*controllers.Loop
	for wake, ch := range passes {
		loops = append(loops, controllers.NewLoop(wake, wake, time.Hour, func(context.Context) error {
			ch <- struct{}{}
			return nil
		}))
	}
	firstPasses := make(chan struct{})
	e := &controllers.Elector{Locks: storetest.NewSession(t, pool, "wake-all"), Loops: loops,
		Listen: func(ctx context.Context, fn func(string)) error {
			<-firstPasses
			fn(store.WakeAll)
			<-ctx.Done()
			return ctx.Err()
		},
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Start(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	waitPass := func(wake string) {
		select {
		case <-passes[wake]:
		case <-time.After(30 * time.Second):
			t.Fatalf("loop %s made no pass", wake)
		}
	}
	for wake := range passes {
		waitPass(wake) // the pass every loop starts with
	}
	close(firstPasses)
	for wake := range passes {
		waitPass(wake)
	}
}
