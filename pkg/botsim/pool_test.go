package botsim

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/botproto"
)

// fastSleep plays time at 1/1000 speed.
func fastSleep(ctx context.Context, d time.Duration) error { return sleepCtx(ctx, d/1000) }

// startSlot runs a pool slot against f at test speed. The returned
// channel yields Run's exit code; the returned cancel stops the slot.
func startSlot(t *testing.T, f *fakeController, set Settings) (exited <-chan int, stop context.CancelFunc) {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	slot := botproto.NewSlotClient(srv.URL, testSlotUUID, testSlotToken,
		botproto.WithBackoff(time.Millisecond, 5*time.Millisecond), botproto.WithMaxElapsed(time.Second))
	p := &PoolSlot{
		API:       slot,
		NewBotAPI: func(botID, token string) API { return slot.BotClient(botID, token) },
		Settings:  set,
		Sleep:     fastSleep,
	}
	ch := make(chan int, 1)
	go func() { ch <- p.Run(ctx) }()
	return ch, cancel
}

// waitAssignments waits until f has answered at least n assignment
// requests, failing if the slot exits or stalls meanwhile.
func waitAssignments(t *testing.T, f *fakeController, exited <-chan int, n int) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for f.assignmentCount() < n {
		select {
		case code := <-exited:
			t.Fatalf("pool slot exited with %d; it must never exit on its own", code)
		case <-f.onAssign:
		case <-deadline:
			t.Fatalf("only %d assignment requests, want %d", f.assignmentCount(), n)
		}
	}
}

// stopSlot cancels the slot and requires it to return 0 promptly.
func stopSlot(t *testing.T, exited <-chan int, stop context.CancelFunc) {
	t.Helper()
	select {
	case code := <-exited:
		t.Fatalf("pool slot exited with %d before it was stopped", code)
	default:
	}
	stop()
	select {
	case code := <-exited:
		require.Equal(t, 0, code)
	case <-time.After(5 * time.Second):
		t.Fatal("pool slot did not stop")
	}
}

func assigned(f *fakeController, botID, token string) botproto.Assignment {
	cfg := f.cfg
	cfg.BotID = botID
	return botproto.Assignment{Assigned: true, BotID: botID, Token: token, Config: &cfg}
}

func idle() (int, botproto.Assignment) {
	return http.StatusOK, botproto.Assignment{RetryAfterSeconds: 2}
}

func TestPoolIdleAssignedDoneIdle(t *testing.T) {
	t.Parallel()
	const (
		secondBot   = "c2b1a9e8-4d3f-4a7b-8e6d-5f0a1b2c3d4e"
		firstToken  = "attempt-token-1"
		secondToken = "attempt-token-2"
	)
	f := newFake()
	statusesAt := map[int]int{}
	f.assign = func(n int) (int, botproto.Assignment) {
		statusesAt[n] = len(f.statuses)
		switch n {
		case 2:
			// Only this attempt's token opens the bot endpoints.
			f.token = firstToken
			return http.StatusOK, assigned(f, testBotID, firstToken)
		case 5:
			f.botID, f.token = secondBot, secondToken
			return http.StatusOK, assigned(f, secondBot, secondToken)
		}
		return idle()
	}

	exited, stop := startSlot(t, f, Settings{CallDuration: 20 * time.Second})
	waitAssignments(t, f, exited, 8)
	stopSlot(t, exited, stop)

	meeting := []botproto.Status{joining, inCall, leaving, done}
	require.Equal(t, append(append([]botproto.Status{}, meeting...), meeting...), f.statusList())
	f.mu.Lock()
	defer f.mu.Unlock()
	require.Zero(t, statusesAt[2], "nothing is reported while idle")
	require.Equal(t, 4, statusesAt[3], "the slot asks again only after DONE")
	require.Equal(t, 8, statusesAt[6])
	require.Len(t, f.events, 2)
	require.Positive(t, f.heartbeats)
}

func TestPoolShouldExitGoesBackToIdle(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.assign = func(n int) (int, botproto.Assignment) {
		if n == 1 {
			a := assigned(f, testBotID, testToken)
			a.Config.ShouldExit, a.Config.ExitReason = true, "bot already DONE"
			return http.StatusOK, a
		}
		return idle()
	}

	exited, stop := startSlot(t, f, Settings{CallDuration: time.Second})
	waitAssignments(t, f, exited, 4)
	stopSlot(t, exited, stop)

	require.Empty(t, f.statusList())
	require.Zero(t, f.heartbeatCount())
}

func TestPoolRetriesRejectedSlotCredentials(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.assign = func(n int) (int, botproto.Assignment) {
		switch {
		case n <= 2:
			return http.StatusUnauthorized, botproto.Assignment{}
		case n == 3:
			return http.StatusForbidden, botproto.Assignment{}
		case n == 4:
			return http.StatusOK, assigned(f, testBotID, testToken)
		}
		return idle()
	}

	exited, stop := startSlot(t, f, Settings{CallDuration: time.Second})
	waitAssignments(t, f, exited, 6)
	stopSlot(t, exited, stop)

	require.Equal(t, []botproto.Status{joining, inCall, leaving, done}, f.statusList())
}

func TestPoolKeepsAskingWhileRejected(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.assign = func(int) (int, botproto.Assignment) { return http.StatusUnauthorized, botproto.Assignment{} }

	exited, stop := startSlot(t, f, Settings{})
	// Backoff at test speed is 1 ms doubling to a 60 ms cap.
	waitAssignments(t, f, exited, 12)
	stopSlot(t, exited, stop)
}

func TestPoolMeetingCutShortGoesBackToIdle(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		setup func(f *fakeController)
		want  []botproto.Status
	}{
		"conflict": {
			setup: func(f *fakeController) { f.refuse = map[botproto.Status]bool{inCall: true} },
			want:  []botproto.Status{joining},
		},
		"crash": {
			setup: func(f *fakeController) {
				f.cfg.Metadata = map[string]any{"simulate": map[string]any{"crash_at": "IN_CALL"}}
			},
			want: []botproto.Status{joining},
		},
		"bad metadata": {
			setup: func(f *fakeController) { f.cfg.Metadata = map[string]any{"simulate": map[string]any{"nope": 1}} },
			want:  []botproto.Status{botproto.StatusFatal},
		},
		"should_leave": {
			// Told to leave once in the call: told earlier, the bot would
			// rightly skip IN_CALL, and the heartbeat's timing would decide.
			setup: func(f *fakeController) { f.onStatus = func(s botproto.Status) { f.shouldLeave = s == inCall } },
			want:  []botproto.Status{joining, inCall, leaving, done},
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFake()
			tc.setup(f)
			f.assign = func(n int) (int, botproto.Assignment) {
				if n == 1 {
					return http.StatusOK, assigned(f, testBotID, testToken)
				}
				return idle()
			}

			// CallDuration 0: only should_leave can end the call.
			exited, stop := startSlot(t, f, Settings{CallDuration: 0})
			waitAssignments(t, f, exited, 3)
			stopSlot(t, exited, stop)

			require.Equal(t, tc.want, f.statusList())
		})
	}
}

func TestPoolFetchesConfigWhenAssignmentHasNone(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.assign = func(n int) (int, botproto.Assignment) {
		if n == 1 {
			f.token = "attempt-token"
			return http.StatusOK, botproto.Assignment{Assigned: true, BotID: testBotID, Token: "attempt-token"}
		}
		return idle()
	}

	exited, stop := startSlot(t, f, Settings{CallDuration: time.Second})
	waitAssignments(t, f, exited, 3)
	stopSlot(t, exited, stop)

	require.Equal(t, []botproto.Status{joining, inCall, leaving, done}, f.statusList())
}

func TestPoolStopDuringMeetingSaysGoodbye(t *testing.T) {
	t.Parallel()
	f := newFake()
	inCallReached := make(chan struct{})
	f.onStatus = func(s botproto.Status) {
		if s == inCall {
			close(inCallReached)
		}
	}
	f.assign = func(n int) (int, botproto.Assignment) {
		if n == 1 {
			return http.StatusOK, assigned(f, testBotID, testToken)
		}
		return idle()
	}

	exited, stop := startSlot(t, f, Settings{CallDuration: 0})
	select {
	case <-inCallReached:
	case <-time.After(10 * time.Second):
		t.Fatal("meeting did not start")
	}
	stopSlot(t, exited, stop)

	require.Equal(t, []botproto.Status{joining, inCall, leaving, done}, f.statusList())
	require.Equal(t, "signal", f.leavingReason())
	require.Equal(t, 1, f.assignmentCount(), "a stopped slot asks for nothing more")
}
