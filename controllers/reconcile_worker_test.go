package controllers_test

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/controllers/bot"
	"github.com/meeboter/meeboter/pkg/store"
)

// recordingReconciler counts concurrent reconciles per bot and lets a test
// hold a reconcile open.
type recordingReconciler struct {
	mu         sync.Mutex
	running    map[uuid.UUID]int
	done       map[uuid.UUID]int
	maxRunning int
	calls      atomic.Int32
	hold       chan struct{} // when set, the first reconcile blocks until it is closed
	entered    chan struct{} // closed when the first reconcile started
	once       sync.Once
	delay      time.Duration
	store      *store.Store // set by startWorkerOn
}

// Reconcile reports the revision it read first, as a reconcile that decided
// on that read would.
func (r *recordingReconciler) Reconcile(ctx context.Context, id uuid.UUID) (bot.Result, error) {
	rev, _, err := r.store.BotRevision(ctx, id)
	if err != nil {
		return bot.Result{}, err
	}
	r.mu.Lock()
	r.running[id]++
	r.maxRunning = max(r.maxRunning, r.running[id])
	r.mu.Unlock()
	first := r.calls.Add(1) == 1
	if first && r.hold != nil {
		r.once.Do(func() { close(r.entered) })
		<-r.hold
	}
	time.Sleep(r.delay)
	r.mu.Lock()
	r.running[id]--
	if r.done == nil {
		r.done = map[uuid.UUID]int{}
	}
	r.done[id]++
	r.mu.Unlock()
	return bot.Result{Revision: rev}, nil
}

// count is how many reconciles of id finished.
func (r *recordingReconciler) count(id uuid.UUID) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.done[id]
}

func startWorker(t *testing.T, rec *recordingReconciler) *store.Store {
	t.Helper()
	st, _, _ := startWorkerOn(t, rec)
	return st
}

func createBot(t *testing.T, st *store.Store) store.Bot {
	t.Helper()
	res, err := st.CreateBot(context.Background(), store.NewBot{Owner: "acme", MeetingURL: "https://meet.google.com/abc-defg-hij",
		MeetingPlatform: "google-meet", BotName: "b"}, nil, time.Now(), func(b store.Bot) ([]byte, error) { return json.Marshal(b.ID) })
	require.NoError(t, err)
	return res.Bot
}

func TestReconcilesOfOneBotNeverOverlap(t *testing.T) {
	t.Parallel()
	rec := &recordingReconciler{running: map[uuid.UUID]int{}, delay: 30 * time.Millisecond}
	st := startWorker(t, rec)
	b := createBot(t, st)
	ctx := context.Background()
	// Four writers wake the bot again and again while reconciles run, until
	// twenty reconciles ran (however slow the machine).
	var wg sync.WaitGroup
	deadline := time.Now().Add(time.Minute)
	for i := range 4 {
		wg.Go(func() {
			for n := 0; rec.calls.Load() < 20 && time.Now().Before(deadline); n++ {
				_, err := st.EnqueueDue(ctx, time.Now().Add(time.Hour), 10)
				require.NoError(t, err)
				if n%10 == 0 {
					_, err = st.RequestStop(ctx, "acme", b.ID, []store.StopMode{store.StopLeave, store.StopCancel}[i%2], time.Now())
					require.NoError(t, err)
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	require.GreaterOrEqual(t, rec.calls.Load(), int32(20), "the writers caused many reconciles")
	require.Eventually(t, func() bool {
		var unfinished int
		require.NoError(t, st.Pool().QueryRow(ctx, `SELECT count(*) FROM river_job WHERE kind = 'reconcile_bot'
			AND state NOT IN ('completed', 'discarded', 'cancelled')`).Scan(&unfinished))
		return unfinished == 0
	}, 10*time.Second, 10*time.Millisecond)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Equal(t, 1, rec.maxRunning, "two reconciles of one bot ran at the same time")
}

func TestEventDuringReconcileIsNotLost(t *testing.T) {
	t.Parallel()
	rec := &recordingReconciler{running: map[uuid.UUID]int{}, hold: make(chan struct{}), entered: make(chan struct{})}
	st := startWorker(t, rec)
	b := createBot(t, st)
	<-rec.entered // the reconcile woken by the create is running now

	// An event arrives: its reconcile job is skipped as a duplicate of the
	// running one (River unique states include running).
	_, err := st.RequestStop(context.Background(), "acme", b.ID, store.StopCancel, time.Now())
	require.NoError(t, err)
	close(rec.hold)

	require.Eventually(t, func() bool { return rec.calls.Load() >= 2 }, 10*time.Second, 10*time.Millisecond,
		"the event that arrived during the reconcile never caused another reconcile")

	// The second reconcile ran in the same job, not after a snooze: a
	// snoozed job waits for River's next poll, up to a second.
	var snoozes int
	require.Eventually(t, func() bool {
		err := st.Pool().QueryRow(context.Background(), `SELECT coalesce((metadata->>'snoozes')::int, 0) FROM river_job
			WHERE kind = 'reconcile_bot' AND args->>'bot_id' = $1 AND state = 'completed'`, b.ID.String()).Scan(&snoozes)
		return err == nil
	}, 10*time.Second, 10*time.Millisecond, "the job never completed")
	require.Zero(t, snoozes, "the job was snoozed instead of reconciling again at once")
}
