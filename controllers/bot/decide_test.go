package bot

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/store"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

var testConfig = Config{
	HeartbeatTimeout: 5 * time.Minute,
	DeployTimeout:    10 * time.Minute,
	LeaveTimeout:     2 * time.Minute,
	MaxBotLifetime:   3 * time.Hour,
	QueueTimeout:     10 * time.Minute,
	JoinLeadTime:     30 * time.Second,
	MissingGrace:     10 * time.Second,
	MaxAttempts:      3,
	StopRecheck:      time.Minute,
}

// deployed returns a bot admitted at t0 with a running attempt 1.
func deployed(status store.Status) (store.Bot, *store.Deployment) {
	b := store.Bot{ID: uuid.New(), Status: status, Desired: store.DesiredRunning, CurrentAttempt: 1,
		DeployStartedAt: new(t0), QueuedAt: new(t0)}
	if status.Running() {
		b.LastHeartbeatAt = new(t0)
	}
	d := &store.Deployment{BotID: b.ID, Attempt: 1, State: store.DeploymentRunning, CreatedAt: t0,
		Observed: new(store.ObservedRunning), ObservedAt: new(t0)}
	return b, d
}

func TestDecideSchedule(t *testing.T) {
	t.Parallel()
	b := store.Bot{Status: store.StatusScheduled, Desired: store.DesiredRunning, JoinAt: new(t0.Add(time.Hour))}
	a := Decide(b, nil, t0, testConfig)
	require.Equal(t, ActWait, a.Kind)
	require.Equal(t, t0.Add(time.Hour-30*time.Second), *a.Next, "admitted the lead time early")
	require.Equal(t, ActQueue, Decide(b, nil, t0.Add(time.Hour-30*time.Second), testConfig).Kind)
}

func TestDecideQueueTimeout(t *testing.T) {
	t.Parallel()
	b := store.Bot{Status: store.StatusQueued, Desired: store.DesiredRunning, QueuedAt: new(t0)}
	a := Decide(b, nil, t0.Add(9*time.Minute), testConfig)
	require.Equal(t, ActWait, a.Kind)
	require.Equal(t, t0.Add(10*time.Minute), *a.Next)
	a = Decide(b, nil, t0.Add(10*time.Minute), testConfig)
	require.Equal(t, Action{Kind: ActFinish, Status: store.StatusFatal, Reason: store.ReasonQueueTimeout}, a)
}

func TestDecideCreatesPendingAttempt(t *testing.T) {
	t.Parallel()
	b, d := deployed(store.StatusDeploying)
	for _, s := range []store.DeploymentState{store.DeploymentPending, store.DeploymentCreating} {
		d.State = s
		require.Equal(t, ActCreate, Decide(b, d, t0, testConfig).Kind, s)
	}
}

func TestDecideDeadlines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status store.Status
		at     time.Duration
		want   Action
	}{
		{"deploying in time", store.StatusDeploying, 9 * time.Minute, wait(new(t0.Add(10 * time.Minute)))},
		{"deploy timeout", store.StatusDeploying, 10 * time.Minute, finish(store.StatusFatal, store.ReasonDeployTimeout)},
		{"in call with a fresh beat", store.StatusInCall, 4 * time.Minute, wait(new(t0.Add(5 * time.Minute)))},
		{"heartbeat timeout", store.StatusInCall, 5 * time.Minute, finish(store.StatusFatal, store.ReasonHeartbeat)},
		{"heartbeat timeout while joining", store.StatusJoiningCall, 6 * time.Minute, finish(store.StatusFatal, store.ReasonHeartbeat)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, d := deployed(tt.status)
			require.Equal(t, tt.want, Decide(b, d, t0.Add(tt.at), testConfig))
		})
	}
}

// A slow deploy lives as long as the platform reports progress (issue 10:
// healthy cold pulls were killed at DEPLOY_TIMEOUT).
func TestDecideDeployDeadlineMovesWithProgress(t *testing.T) {
	t.Parallel()
	b, d := deployed(store.StatusDeploying)
	d.Observed, d.ProgressAt = new(store.ObservedPending), new(t0.Add(8*time.Minute))
	require.Equal(t, wait(new(t0.Add(18*time.Minute))), Decide(b, d, t0.Add(12*time.Minute), testConfig))
	require.Equal(t, finish(store.StatusFatal, store.ReasonDeployTimeout), Decide(b, d, t0.Add(18*time.Minute), testConfig))
}

// A failed create waits out its backoff and is retried until the deploy
// deadline; an attempt refused for capacity is a bot still queued, and
// waits until its queue timeout. Only then does the bot end, with the reason
// that says which it was.
func TestDecideCreateRetriesWithinItsDeadline(t *testing.T) {
	t.Parallel()
	b, d := deployed(store.StatusDeploying)
	d.State, d.Observed, d.RetryAt, d.ErrorCount = store.DeploymentCreating, nil, new(t0.Add(5*time.Second)), 1
	require.Equal(t, wait(new(t0.Add(5*time.Second))), Decide(b, d, t0.Add(time.Second), testConfig))
	require.Equal(t, ActCreate, Decide(b, d, t0.Add(5*time.Second), testConfig).Kind)

	d.RetryAt = new(t0.Add(11 * time.Minute))
	require.Equal(t, wait(new(t0.Add(10*time.Minute))), Decide(b, d, t0.Add(9*time.Minute), testConfig),
		"a backoff never outlasts the deadline")
	require.Equal(t, finish(store.StatusFatal, store.ReasonPlatformError), Decide(b, d, t0.Add(10*time.Minute), testConfig),
		"the platform kept failing")

	// Refused for capacity, nothing failed: the queue timeout bounds the wait.
	b.QueuedAt, d.ErrorCount, d.RetryAt = new(t0.Add(5*time.Minute)), 0, new(t0.Add(11*time.Minute))
	require.Equal(t, wait(new(t0.Add(11*time.Minute))), Decide(b, d, t0.Add(10*time.Minute), testConfig))
	require.Equal(t, finish(store.StatusFatal, store.ReasonQueueTimeout), Decide(b, d, t0.Add(15*time.Minute), testConfig),
		"no capacity in time")

	// Never even tried (a crash before the first create): the deploy deadline.
	d.RetryAt = nil
	require.Equal(t, finish(store.StatusFatal, store.ReasonDeployTimeout), Decide(b, d, t0.Add(10*time.Minute), testConfig))
}

// An attempt whose create was never begun waits behind the platform's
// launch rate: it is a bot still queued, bounded by its queue timeout
// (issue 13: at 20,000 bots the deploy timeout ended 900 of them before
// their turn came).
func TestDecideCreateNotBegunWaitsUntilTheQueueTimeout(t *testing.T) {
	t.Parallel()
	cfg := testConfig
	cfg.QueueTimeout = 30 * time.Minute
	b, d := deployed(store.StatusDeploying)
	d.State, d.Observed = store.DeploymentPending, nil
	require.Equal(t, ActCreate, Decide(b, d, t0.Add(15*time.Minute), cfg).Kind)
	require.Equal(t, finish(store.StatusFatal, store.ReasonQueueTimeout), Decide(b, d, t0.Add(30*time.Minute), cfg))

	d.State = store.DeploymentCreating // under way: the deploy deadline
	require.Equal(t, finish(store.StatusFatal, store.ReasonDeployTimeout), Decide(b, d, t0.Add(15*time.Minute), cfg))
}

// A stop holds the attempt's capacity until the platform shows the workload
// gone (issue 10: ECS tasks still stopping were not counted), and is asked
// again when it does not take.
func TestDecideStopWaitsForTheWorkloadToGo(t *testing.T) {
	t.Parallel()
	b, d := deployed(store.StatusDone)
	require.Equal(t, ActStop, Decide(b, d, t0, testConfig).Kind)
	d.State, d.StopRequestedAt = store.DeploymentStopping, new(t0)
	for _, o := range []string{store.ObservedRunning, store.ObservedStopping, store.ObservedPending} {
		d.Observed = new(o)
		require.Equal(t, wait(new(t0.Add(time.Minute))), Decide(b, d, t0.Add(time.Second), testConfig), o)
	}
	require.Equal(t, ActStop, Decide(b, d, t0.Add(time.Minute), testConfig).Kind, "asked again")
	for _, o := range []string{store.ObservedExited, store.ObservedMissing} {
		d.Observed = new(o)
		require.Equal(t, ActForget, Decide(b, d, t0.Add(time.Second), testConfig).Kind, o)
	}
}

// The platform's "exited" is cross-checked with the bot's heartbeats: a
// status shown late (Coolify's status lags) must not end a bot that still
// talks (issue 10: bots ended container_exited during a status-lag window).
func TestDecideExitIsConfirmedByTheBotsSilence(t *testing.T) {
	t.Parallel()
	cfg := testConfig
	cfg.ExitConfirm = 15 * time.Second
	b, d := deployed(store.StatusInCall)
	b.JoinedAt = new(t0)
	seen := t0.Add(time.Minute)
	d.Observed, d.ObservedAt = new(store.ObservedExited), new(seen)

	b.LastHeartbeatAt = new(seen.Add(-5 * time.Second)) // beating when seen exited
	require.Equal(t, wait(new(seen.Add(15*time.Second))), Decide(b, d, seen, cfg), "it has 15 s to beat again")
	require.Equal(t, finish(store.StatusFatal, store.ReasonContainerExited), Decide(b, d, seen.Add(15*time.Second), cfg),
		"no beat: the workload did exit")

	b.LastHeartbeatAt = new(seen.Add(3 * time.Second))
	a := Decide(b, d, seen.Add(20*time.Second), cfg)
	require.Equal(t, ActWait, a.Kind, "a beat after the exit refutes it")
	require.Equal(t, seen.Add(3*time.Second+5*time.Minute), *a.Next, "the heartbeat deadline watches it from now on")

	b.LastHeartbeatAt = new(seen.Add(-time.Minute)) // silent for long already
	require.Equal(t, finish(store.StatusFatal, store.ReasonContainerExited), Decide(b, d, seen, cfg))
	b.LastHeartbeatAt = nil
	require.Equal(t, finish(store.StatusFatal, store.ReasonContainerExited), Decide(b, d, seen, cfg))
}

func TestDecideStoppingWorkloadHasEndedForTheBot(t *testing.T) {
	t.Parallel()
	b, d := deployed(store.StatusJoiningCall)
	d.Observed = new(store.ObservedStopping) // a Spot interruption, say
	require.Equal(t, ActRetry, Decide(b, d, t0.Add(time.Minute), testConfig).Kind)
}

func TestDecideMaxLifetime(t *testing.T) {
	t.Parallel()
	b, d := deployed(store.StatusInCall)
	now := t0.Add(3*time.Hour + 2*time.Minute)
	b.LastHeartbeatAt = new(now)
	require.Equal(t, finish(store.StatusFatal, store.ReasonMaxLifetime), Decide(b, d, now, testConfig))
}

// A bot with a max duration leaves that long after its join_at (after its
// deploy start without one), and is ended a leave timeout later.
func TestDecideMaxDuration(t *testing.T) {
	t.Parallel()
	b, d := deployed(store.StatusInCall)
	b.MaxDurationSeconds = new(600)
	leaveAt, ok := b.LeaveAt(testConfig.MaxBotLifetime)
	require.True(t, ok)
	require.Equal(t, t0.Add(10*time.Minute), leaveAt, "from the deploy start without join_at")
	b.JoinAt = new(t0.Add(time.Minute)) // admitted a lead time early
	leaveAt, _ = b.LeaveAt(testConfig.MaxBotLifetime)
	require.Equal(t, t0.Add(11*time.Minute), leaveAt, "from join_at")
	end := leaveAt.Add(testConfig.LeaveTimeout)
	b.LastHeartbeatAt = new(end)
	require.NotEqual(t, ActFinish, Decide(b, d, end.Add(-time.Second), testConfig).Kind)
	require.Equal(t, finish(store.StatusFatal, store.ReasonMaxLifetime), Decide(b, d, end, testConfig))

	b.MaxDurationSeconds = new(24 * 3600) // longer than MAX_BOT_LIFETIME: the lifetime wins
	leaveAt, _ = b.LeaveAt(testConfig.MaxBotLifetime)
	require.Equal(t, t0.Add(testConfig.MaxBotLifetime), leaveAt)
}

func TestDecideExitBeforeCallRetries(t *testing.T) {
	t.Parallel()
	b, d := deployed(store.StatusJoiningCall)
	d.Observed = new(store.ObservedExited)
	require.Equal(t, ActRetry, Decide(b, d, t0.Add(time.Minute), testConfig).Kind)

	d.Attempt, b.CurrentAttempt = 3, 3
	require.Equal(t, finish(store.StatusFatal, store.ReasonContainerExited), Decide(b, d, t0.Add(time.Minute), testConfig),
		"the attempt limit ends the bot")
}

func TestDecideExitAfterCallIsFatal(t *testing.T) {
	t.Parallel()
	b, d := deployed(store.StatusInCall)
	b.JoinedAt = new(t0)
	d.Observed = new(store.ObservedExited)
	require.Equal(t, finish(store.StatusFatal, store.ReasonContainerExited), Decide(b, d, t0.Add(time.Minute), testConfig))
}

func TestDecideMissingIsUnknownUntilGrace(t *testing.T) {
	t.Parallel()
	b, d := deployed(store.StatusInCall)
	d.Observed, d.ObservedAt = new(store.ObservedMissing), new(t0.Add(time.Minute))
	a := Decide(b, d, t0.Add(time.Minute+5*time.Second), testConfig)
	require.Equal(t, ActWait, a.Kind, "missing inside the grace period is not gone")
	require.Equal(t, t0.Add(time.Minute+10*time.Second), *a.Next)
	require.Equal(t, ActRetry, Decide(b, d, t0.Add(time.Minute+10*time.Second), testConfig).Kind)
}

func TestDecideStop(t *testing.T) {
	t.Parallel()
	t.Run("cancel finishes first, then stops", func(t *testing.T) {
		t.Parallel()
		b, d := deployed(store.StatusInCall)
		b.Desired, b.StopMode, b.StopRequestedAt = store.DesiredStopped, new(store.StopCancel), new(t0)
		require.Equal(t, finish(store.StatusDone, store.ReasonCancelled), Decide(b, d, t0, testConfig))
		b.Status = store.StatusDone
		require.Equal(t, ActStop, Decide(b, d, t0, testConfig).Kind)
		d.State = store.DeploymentGone
		require.Equal(t, wait(nil), Decide(b, d, t0, testConfig))
	})
	t.Run("leave waits for the bot, then times out", func(t *testing.T) {
		t.Parallel()
		b, d := deployed(store.StatusInCall)
		b.Desired, b.StopMode, b.StopRequestedAt = store.DesiredStopped, new(store.StopLeave), new(t0)
		require.Equal(t, wait(new(t0.Add(2*time.Minute))), Decide(b, d, t0.Add(time.Minute), testConfig))
		require.Equal(t, finish(store.StatusFatal, store.ReasonLeaveTimeout), Decide(b, d, t0.Add(2*time.Minute), testConfig))
	})
	t.Run("leave before the call is a removal", func(t *testing.T) {
		t.Parallel()
		b, d := deployed(store.StatusDeploying)
		b.Desired, b.StopMode, b.StopRequestedAt = store.DesiredStopped, new(store.StopLeave), new(t0)
		require.Equal(t, finish(store.StatusDone, store.ReasonRemoved), Decide(b, d, t0, testConfig))
	})
	t.Run("queued bot", func(t *testing.T) {
		t.Parallel()
		b := store.Bot{Status: store.StatusQueued, Desired: store.DesiredStopped, StopMode: new(store.StopCancel), QueuedAt: new(t0)}
		require.Equal(t, finish(store.StatusDone, store.ReasonCancelled), Decide(b, nil, t0, testConfig))
	})
}

func TestDecideTerminalIsAbsorbing(t *testing.T) {
	t.Parallel()
	for _, s := range []store.Status{store.StatusDone, store.StatusFatal} {
		b, d := deployed(s)
		d.State = store.DeploymentGone
		d.Observed = new(store.ObservedExited)
		require.Equal(t, wait(nil), Decide(b, d, t0.Add(24*time.Hour), testConfig), s)
	}
}

func TestCheckTransition(t *testing.T) {
	t.Parallel()
	ok := [][2]store.Status{
		{store.StatusDeploying, store.StatusJoiningCall}, {store.StatusJoiningCall, store.StatusInWaitingRoom},
		{store.StatusInWaitingRoom, store.StatusInCall}, {store.StatusInCall, store.StatusInWaitingRoom},
		{store.StatusInCall, store.StatusLeaving}, {store.StatusLeaving, store.StatusDone},
		{store.StatusDeploying, store.StatusFatal}, {store.StatusJoiningCall, store.StatusDone},
	}
	for _, tr := range ok {
		require.NoError(t, store.CheckTransition(tr[0], tr[1]), "%s → %s", tr[0], tr[1])
	}
	refused := [][2]store.Status{
		{store.StatusDone, store.StatusInCall}, {store.StatusFatal, store.StatusDone}, {store.StatusLeaving, store.StatusInCall},
		{store.StatusInCall, store.StatusJoiningCall}, {store.StatusQueued, store.StatusInCall},
		{store.StatusScheduled, store.StatusDone}, {store.StatusJoiningCall, store.StatusDeploying},
	}
	for _, tr := range refused {
		require.ErrorIs(t, store.CheckTransition(tr[0], tr[1]), store.ErrConflict, "%s → %s", tr[0], tr[1])
	}
}
