package observer_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/meeboter/meeboter/controllers"
	"github.com/meeboter/meeboter/controllers/observer"
	"github.com/meeboter/meeboter/hack/devenv/fakeclock"
	"github.com/meeboter/meeboter/hack/devenv/pgtest"
	"github.com/meeboter/meeboter/hack/devenv/storetest"
	"github.com/meeboter/meeboter/pkg/platform"
	"github.com/meeboter/meeboter/pkg/platform/platformtest"
	"github.com/meeboter/meeboter/pkg/store"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

const createGrace = 10 * time.Second

type testBundle struct {
	pool     *pgxpool.Pool
	store    *store.Store
	platform *platformtest.Fake
	clock    *fakeclock.Clock
	observer *observer.Observer
	counter  *pgtest.QueryCounter // every statement on pool
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	counter := &pgtest.QueryCounter{}
	pool := storetest.NewPoolWith(t, func(cfg *pgxpool.Config) { cfg.ConnConfig.Tracer = counter })
	client, err := controllers.NewInsertClient(pool)
	require.NoError(t, err)
	st := store.New(pool, controllers.NewEnqueuer(client))
	b := &testBundle{pool: pool, store: st, platform: &platformtest.Fake{}, clock: fakeclock.New(t0), counter: counter}
	b.observer = &observer.Observer{Store: st, Platform: b.platform, Clock: b.clock, CreateGrace: createGrace,
		Logger: zap.NewNop()}
	return b
}

func render(b store.Bot) ([]byte, error) { return json.Marshal(map[string]any{"id": b.ID}) }

// admit creates a bot and admits it on the observed platform: a PENDING deployment
// (attempt 1) whose updated_at is at.
func (b *testBundle) admit(t *testing.T, at time.Time) uuid.UUID {
	t.Helper()
	ctx := context.Background()
	res, err := b.store.CreateBot(ctx, store.NewBot{Owner: "acme", MeetingURL: "https://meet.google.com/abc-defg-hij",
		MeetingPlatform: "google-meet", BotName: "Meeboter", Metadata: json.RawMessage(`{}`)}, nil, at, render)
	require.NoError(t, err)
	admitted, err := b.store.Admit(ctx, store.PlatformLimit{Platform: b.observer.Platform.Name(), Limit: 100}, at)
	require.NoError(t, err)
	require.Equal(t, []uuid.UUID{res.Bot.ID}, admitted)
	return res.Bot.ID
}

// creating makes a CREATING deployment whose updated_at is at.
func (b *testBundle) creating(t *testing.T, at time.Time) uuid.UUID {
	t.Helper()
	id := b.admit(t, at)
	storetest.BeginCreate(t, b.store, id, 1, "t-"+id.String(), at) // token hashes are unique
	return id
}

// running makes a RUNNING deployment whose updated_at is at.
func (b *testBundle) running(t *testing.T, at time.Time) uuid.UUID {
	t.Helper()
	id := b.creating(t, at)
	require.NoError(t, b.store.MarkRunning(context.Background(), id, 1, "ext", at))
	return id
}

func (b *testBundle) deployment(t *testing.T, id uuid.UUID) store.Deployment {
	t.Helper()
	_, d, err := b.store.LoadBot(context.Background(), id)
	require.NoError(t, err)
	require.NotNil(t, d)
	return *d
}

func (b *testBundle) revision(t *testing.T, id uuid.UUID) int64 {
	t.Helper()
	rev, found, err := b.store.BotRevision(context.Background(), id)
	require.NoError(t, err)
	require.True(t, found)
	return rev
}

// reconcileJobs counts the bot's unfinished reconcile jobs.
func (b *testBundle) reconcileJobs(t *testing.T, id uuid.UUID) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM river_job
		WHERE kind = 'reconcile_bot' AND args->>'bot_id' = $1 AND state IN ('available', 'scheduled', 'running', 'retryable', 'pending')`,
		id.String()).Scan(&n))
	return n
}

// finishReconcileJobs completes the bot's pending reconcile jobs (as a worker
// would), so a new wake-up is visible rather than deduplicated.
func (b *testBundle) finishReconcileJobs(t *testing.T, id uuid.UUID) {
	t.Helper()
	_, err := b.pool.Exec(context.Background(), `UPDATE river_job SET state = 'completed', finalized_at = now()
		WHERE kind = 'reconcile_bot' AND args->>'bot_id' = $1`, id.String())
	require.NoError(t, err)
	require.Zero(t, b.reconcileJobs(t, id))
}

func listed(id uuid.UUID, phase platform.Phase, code *int) platform.Listed {
	return platform.Listed{Name: store.DeploymentName(id, 1), ExternalID: "ext", CreatedAt: t0,
		Observation: platform.Observation{Phase: phase, ExitCode: code}}
}

func TestFailedListWritesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.running(t, t0)
	before := b.deployment(t, id)
	rev := b.revision(t, id)
	b.clock.Set(t0.Add(time.Hour)) // absent and old: would be "missing" if the list counted

	listErr := errors.New("coolify: 502 bad gateway")
	b.platform.FailList(listErr)
	n, err := b.observer.RunOnce(context.Background())
	require.ErrorIs(t, err, listErr)
	require.Zero(t, n)

	after := b.deployment(t, id)
	require.Equal(t, before.Observed, after.Observed)
	require.Equal(t, store.ObservedPending, *after.Observed)
	require.Equal(t, before.ObservedAt, after.ObservedAt)
	require.Equal(t, rev, b.revision(t, id))
}

func TestListedRunningIsObservedRunning(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.running(t, t0)
	b.clock.Set(t0.Add(time.Minute))
	b.platform.Set(listed(id, platform.PhaseRunning, nil))

	n, err := b.observer.RunOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	d := b.deployment(t, id)
	require.Equal(t, store.ObservedRunning, *d.Observed)
	require.Nil(t, d.ExitCode)
	require.True(t, t0.Add(time.Minute).Equal(*d.ObservedAt))
}

func TestListedExitedRecordsExitCodeAndWakesBot(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.running(t, t0)
	b.finishReconcileJobs(t, id)
	rev := b.revision(t, id)
	b.clock.Set(t0.Add(time.Minute))
	b.platform.Set(listed(id, platform.PhaseExited, new(3)))

	n, err := b.observer.RunOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	d := b.deployment(t, id)
	require.Equal(t, store.ObservedExited, *d.Observed)
	require.NotNil(t, d.ExitCode)
	require.Equal(t, 3, *d.ExitCode)
	require.Equal(t, 1, b.reconcileJobs(t, id))
	require.Equal(t, rev+1, b.revision(t, id))
}

func TestLiveProcessWinsOverOldExitRecord(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.running(t, t0)
	b.clock.Set(t0.Add(time.Minute))
	for _, order := range [][]platform.Listed{
		{listed(id, platform.PhaseExited, new(1)), listed(id, platform.PhaseRunning, nil)},
		{listed(id, platform.PhaseRunning, nil), listed(id, platform.PhaseExited, new(1))},
	} {
		b.platform.Set(order...)
		_, err := b.observer.RunOnce(context.Background())
		require.NoError(t, err)
		require.Equal(t, store.ObservedRunning, *b.deployment(t, id).Observed)
	}
}

func TestNotListedWithinCreateGraceIsPending(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.running(t, t0)
	// First make it visibly running, so "pending" is a real write, not the default.
	b.platform.Set(listed(id, platform.PhaseRunning, nil))
	b.clock.Set(t0.Add(time.Second))
	_, err := b.observer.RunOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, store.ObservedRunning, *b.deployment(t, id).Observed)

	b.platform.Set() // absent, but the row changed less than CreateGrace ago
	b.clock.Set(t0.Add(createGrace - time.Second))
	n, err := b.observer.RunOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, store.ObservedPending, *b.deployment(t, id).Observed)
}

func TestNotListedPastCreateGraceIsMissing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.running(t, t0)
	b.platform.Set()
	b.clock.Set(t0.Add(createGrace))

	n, err := b.observer.RunOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, store.ObservedMissing, *b.deployment(t, id).Observed)
}

func TestUnchangedObservationWritesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.running(t, t0)
	b.platform.Set(listed(id, platform.PhaseExited, new(3)))
	b.clock.Set(t0.Add(time.Minute))
	n, err := b.observer.RunOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n)
	rev := b.revision(t, id)
	b.finishReconcileJobs(t, id)

	b.clock.Set(t0.Add(2 * time.Minute))
	n, err = b.observer.RunOnce(context.Background())
	require.NoError(t, err)
	require.Zero(t, n)
	d := b.deployment(t, id)
	require.True(t, t0.Add(time.Minute).Equal(*d.ObservedAt), "observed_at is the time of the change")
	require.Equal(t, rev, b.revision(t, id))
	require.Zero(t, b.reconcileJobs(t, id))

	// An ended attempt stays ended: nothing a later list says (another
	// exit code, a container running again) changes it.
	for _, l := range []platform.Listed{listed(id, platform.PhaseExited, new(4)), listed(id, platform.PhaseRunning, nil)} {
		b.platform.Set(l)
		n, err = b.observer.RunOnce(context.Background())
		require.NoError(t, err)
		require.Zero(t, n)
		require.Equal(t, 3, *b.deployment(t, id).ExitCode)
		require.Equal(t, rev, b.revision(t, id))
	}
}

// racingStore marks one CREATING deployment running between the observer's
// read of the rows and its writes, as a bot reconciler would.
type racingStore struct {
	*store.Store
	id uuid.UUID
	at time.Time
}

func (s *racingStore) LiveDeployments(ctx context.Context, name string) ([]store.Deployment, error) {
	deps, err := s.Store.LiveDeployments(ctx, name)
	if err != nil {
		return nil, err
	}
	return deps, s.MarkRunning(ctx, s.id, 1, "ext", s.at)
}

func TestObservationOfRowChangedSinceReadIsDropped(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.creating(t, t0) // created long ago by the clock, workload not listed
	other := b.running(t, t0)
	b.finishReconcileJobs(t, id)
	rev := b.revision(t, id)
	now := t0.Add(time.Hour)
	b.clock.Set(now)
	b.platform.Set()
	b.observer.Store = &racingStore{Store: b.store, id: id, at: now}

	n, err := b.observer.RunOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, 1, n, "only the unchanged row is written")
	d := b.deployment(t, id)
	require.Equal(t, store.DeploymentRunning, d.State)
	require.Equal(t, store.ObservedPending, *d.Observed, "the stale 'missing' must not be written")
	require.Equal(t, rev, b.revision(t, id))
	require.Zero(t, b.reconcileJobs(t, id))
	require.Equal(t, store.ObservedMissing, *b.deployment(t, other).Observed)

	// The next pass sees the new row, within its create grace.
	b.observer.Store = b.store
	b.clock.Set(now.Add(time.Second))
	n, err = b.observer.RunOnce(context.Background())
	require.NoError(t, err)
	require.Zero(t, n)
	require.Equal(t, store.ObservedPending, *b.deployment(t, id).Observed)
}

func TestPendingDeploymentsAreSkipped(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.admit(t, t0)
	b.finishReconcileJobs(t, id)
	rev := b.revision(t, id)
	b.clock.Set(t0.Add(time.Hour))
	b.platform.Set()

	n, err := b.observer.RunOnce(context.Background())
	require.NoError(t, err)
	require.Zero(t, n)
	d := b.deployment(t, id)
	require.Equal(t, store.DeploymentPending, d.State)
	require.Nil(t, d.Observed)
	require.Equal(t, rev, b.revision(t, id))
	require.Zero(t, b.reconcileJobs(t, id))
}

func TestNoLiveDeploymentsDoesNotList(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.platform.FailList(errors.New("unreachable"))
	n, err := b.observer.RunOnce(context.Background())
	require.NoError(t, err)
	require.Zero(t, n)
	require.Zero(t, b.platform.Lists())
}

// ECS drops a stopped task's tags: the platform lists it by ARN only.
func TestWorkloadListedByExternalIDOnly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.running(t, t0)
	b.clock.Set(t0.Add(time.Minute))
	nameless := listed(id, platform.PhaseExited, new(137))
	nameless.Name = ""
	b.platform.Set(nameless)
	_, err := b.observer.RunOnce(context.Background())
	require.NoError(t, err)
	d := b.deployment(t, id)
	require.Equal(t, store.ObservedExited, *d.Observed, "matched by external id")
	require.Equal(t, 137, *d.ExitCode)
}

// A pass that sees nothing new reads the live deployments once and writes
// nothing: no statement per deployment, no transaction.
func TestPassWithoutChangeWritesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.observer.ProgressRefresh = time.Minute
	running, starting, exited := b.running(t, t0), b.running(t, t0), b.running(t, t0)
	b.platform.Set(listed(running, platform.PhaseRunning, nil), listed(starting, platform.PhaseStarting, nil),
		listed(exited, platform.PhaseExited, new(0)))
	b.clock.Set(t0.Add(time.Second))
	n, err := b.observer.RunOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, 2, n, "running and exited are news; starting is pending already")

	b.clock.Set(t0.Add(30 * time.Second)) // within the progress refresh
	b.counter.Reset()
	n, err = b.observer.RunOnce(context.Background())
	require.NoError(t, err)
	require.Zero(t, n)
	require.Equal(t, 1, b.counter.Queries(), "one read: %v", b.counter.Statements())
	require.Empty(t, b.counter.Written())
	require.Zero(t, b.counter.Transactions())

	// Progress reported past the refresh is still written.
	b.clock.Set(t0.Add(2 * time.Minute))
	b.counter.Reset()
	_, err = b.observer.RunOnce(context.Background())
	require.NoError(t, err)
	require.Equal(t, []string{"deployments"}, b.counter.Written())
	require.WithinDuration(t, t0.Add(2*time.Minute), *b.deployment(t, starting).ProgressAt, 0)
}
