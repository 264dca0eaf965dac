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

// simulate runs one meeting against f at 1/1000 speed and returns the exit
// code; a hung meeting fails the test instead of the whole package. opts
// adjust the simulator before it runs.
func simulate(ctx context.Context, t *testing.T, f *fakeController, set Settings, opts ...func(*Simulator)) int {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	sim := &Simulator{
		API: botproto.NewClient(srv.URL, testBotID, testToken,
			botproto.WithBackoff(time.Millisecond, 5*time.Millisecond)),
		Settings: set,
		Sleep:    func(ctx context.Context, d time.Duration) error { return sleepCtx(ctx, d/1000) },
	}
	for _, opt := range opts {
		opt(sim)
	}
	exited := make(chan int, 1)
	go func() { exited <- sim.Run(ctx) }()
	select {
	case code := <-exited:
		return code
	case <-time.After(10 * time.Second):
		t.Fatal("simulator did not finish")
		return -1
	}
}

var (
	joining = botproto.StatusJoiningCall
	waiting = botproto.StatusInWaitingRoom
	inCall  = botproto.StatusInCall
	leaving = botproto.StatusLeaving
	done    = botproto.StatusDone
)

func TestHappyPath(t *testing.T) {
	t.Parallel()
	f := newFake()

	code := simulate(context.Background(), t, f, Settings{CallDuration: 100 * time.Second})

	require.Equal(t, 0, code)
	require.Equal(t, []botproto.Status{joining, inCall, leaving, done}, f.statusList())
	require.Equal(t, "call_ended", f.leavingReason())
	require.Len(t, f.events, 1)
	require.Equal(t, botproto.EventParticipantJoin, f.events[0].Type)
	require.Positive(t, f.heartbeats)
}

func TestWaitingRoomAndExitCode(t *testing.T) {
	t.Parallel()
	f := newFake()

	code := simulate(context.Background(), t, f, Settings{
		WaitingRoom: 5 * time.Second, CallDuration: 5 * time.Second, ExitCode: 7,
	})

	require.Equal(t, 7, code)
	require.Equal(t, []botproto.Status{joining, waiting, inCall, leaving, done}, f.statusList())
}

func TestShouldLeaveEndsCallEarly(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.onStatus = func(s botproto.Status) { f.shouldLeave = s == inCall }

	// CallDuration 0 means "until told to leave", so only the heartbeat
	// can end this meeting.
	code := simulate(context.Background(), t, f, Settings{CallDuration: 0})

	require.Equal(t, 0, code)
	require.Equal(t, []botproto.Status{joining, inCall, leaving, done}, f.statusList())
	require.Equal(t, "should_leave", f.leavingReason())
}

func TestShouldLeaveDuringWaitingRoomSkipsCall(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.onStatus = func(s botproto.Status) { f.shouldLeave = s == waiting }

	code := simulate(context.Background(), t, f, Settings{WaitingRoom: time.Hour})

	require.Equal(t, 0, code)
	require.Equal(t, []botproto.Status{joining, waiting, leaving, done}, f.statusList())
}

func TestShouldLeaveWhileJoiningSkipsEverything(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.shouldLeave = true
	// The meeting's context, as the bot's first sleep gets it: before
	// JOINING_CALL only the heartbeat loop sleeps, on that context, and it
	// ends when a heartbeat's should_leave cuts the meeting short.
	meeting := make(chan context.Context, 1)
	observeMeeting := func(sim *Simulator) {
		sleep := sim.Sleep
		sim.Sleep = func(ctx context.Context, d time.Duration) error {
			select {
			case meeting <- ctx:
			default:
			}
			return sleep(ctx, d)
		}
	}
	// Hold JOINING_CALL until a heartbeat has told the bot to leave and the
	// bot has acted on the answer (its meeting is cut short). Past the
	// timeout it goes on, for the assertions to tell what went wrong.
	f.beforeStatus = func(s botproto.Status) {
		if s != joining {
			return
		}
		timeout := time.After(5 * time.Second)
		select {
		case meetCtx := <-meeting:
			select {
			case <-meetCtx.Done():
			case <-timeout:
			}
		case <-timeout:
		}
	}

	code := simulate(context.Background(), t, f, Settings{WaitingRoom: time.Hour, CallDuration: time.Hour}, observeMeeting)

	require.Equal(t, 0, code)
	require.Positive(t, f.heartbeatCount(), "a heartbeat told the bot to leave")
	require.Equal(t, []botproto.Status{joining, leaving, done}, f.statusList())
}

func TestIgnoreLeaveStaysForWholeCall(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.shouldLeave = true
	leaveAt := time.Now()
	f.cfg.LeaveAt = &leaveAt

	code := simulate(context.Background(), t, f, Settings{CallDuration: 100 * time.Second, IgnoreLeave: true})

	require.Equal(t, 0, code)
	require.Equal(t, "call_ended", f.leavingReason())
	require.Greater(t, f.heartbeats, 1)
}

func TestLeaveAtEndsCall(t *testing.T) {
	t.Parallel()
	f := newFake()
	leaveAt := time.Now().Add(20 * time.Second) // 20ms at test speed
	f.cfg.LeaveAt = &leaveAt

	code := simulate(context.Background(), t, f, Settings{CallDuration: 0, NoHeartbeat: true})

	require.Equal(t, 0, code)
	require.Equal(t, "leave_at_reached", f.leavingReason())
}

func TestNoHeartbeat(t *testing.T) {
	t.Parallel()
	f := newFake()

	code := simulate(context.Background(), t, f, Settings{CallDuration: 20 * time.Second, NoHeartbeat: true})

	require.Equal(t, 0, code)
	require.Zero(t, f.heartbeats)
}

func TestCrashAtExitsBeforeReporting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		phase botproto.Status
		want  []botproto.Status
	}{
		{joining, []botproto.Status{}},
		{waiting, []botproto.Status{joining}},
		{inCall, []botproto.Status{joining, waiting}},
		{leaving, []botproto.Status{joining, waiting, inCall}},
	} {
		t.Run(string(tc.phase), func(t *testing.T) {
			t.Parallel()
			f := newFake()

			code := simulate(context.Background(), t, f, Settings{
				WaitingRoom: time.Second, CallDuration: time.Second, CrashAt: tc.phase,
			})

			require.Equal(t, 1, code)
			require.Equal(t, tc.want, f.statusList())
		})
	}
}

func TestMetadataOverridesWin(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.cfg.Metadata = map[string]any{"simulate": map[string]any{
		"crash_at": "", "waiting_room_seconds": 1, "call_seconds": 0.5, "exit_code": 3,
	}}

	// The flags would crash at once; the metadata says otherwise.
	code := simulate(context.Background(), t, f, Settings{CrashAt: joining, CallDuration: time.Hour})

	require.Equal(t, 3, code)
	require.Equal(t, []botproto.Status{joining, waiting, inCall, leaving, done}, f.statusList())
}

func TestBadMetadataIsFatal(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.cfg.Metadata = map[string]any{"simulate": map[string]any{"call_secs": 1}}

	code := simulate(context.Background(), t, f, Settings{})

	require.Equal(t, 1, code)
	require.Equal(t, []botproto.Status{botproto.StatusFatal}, f.statusList())
}

func TestConflictStops(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.refuse = map[botproto.Status]bool{inCall: true}

	code := simulate(context.Background(), t, f, Settings{CallDuration: time.Second})

	require.Equal(t, 0, code)
	require.Equal(t, []botproto.Status{joining}, f.statusList())
}

func TestShouldExitDoesNothing(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.cfg.ShouldExit, f.cfg.ExitReason = true, "bot already DONE"

	code := simulate(context.Background(), t, f, Settings{CallDuration: time.Second})

	require.Equal(t, 0, code)
	require.Empty(t, f.statusList())
	require.Zero(t, f.heartbeats)
}

// A token whose attempt is over (the bot ended: 409; its deployment gone:
// 410) gets no config: the container has nothing to do, and exits cleanly.
func TestAttemptOverDoesNothing(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusConflict, http.StatusGone} {
		f := newFake()
		f.configProblem = status

		code := simulate(context.Background(), t, f, Settings{CallDuration: time.Second})

		require.Equal(t, 0, code, "%d", status)
		require.Empty(t, f.statusList())
		require.Zero(t, f.heartbeats)
	}
}

func TestSignalSaysGoodbye(t *testing.T) {
	t.Parallel()
	f := newFake()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f.onStatus = func(s botproto.Status) {
		if s == inCall {
			cancel() // SIGTERM while in the call
		}
	}

	code := simulate(ctx, t, f, Settings{CallDuration: 0, NoHeartbeat: true})

	require.Equal(t, 0, code)
	require.Equal(t, []botproto.Status{joining, inCall, leaving, done}, f.statusList())
	require.Equal(t, "signal", f.leavingReason())
}

// A bot started before its join_at reports READY, heart-beats while it
// waits, and enters (JOINING_CALL) at join_at, not before (issue 11).
func TestWaitsForJoinAt(t *testing.T) {
	t.Parallel()
	f := newFake()
	joinAt := time.Now().Add(1500 * time.Millisecond)
	f.cfg.JoinAt = &joinAt
	var enteredAt time.Time
	f.onStatus = func(s botproto.Status) {
		if s == joining {
			enteredAt = time.Now()
		}
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	sim := &Simulator{API: botproto.NewClient(srv.URL, testBotID, testToken), Settings: Settings{CallDuration: time.Millisecond}}
	require.Equal(t, 0, sim.Run(context.Background()))

	require.Equal(t, []botproto.Status{botproto.StatusReady, joining, inCall, leaving, done}, f.statusList())
	f.mu.Lock()
	defer f.mu.Unlock()
	require.False(t, enteredAt.Before(joinAt), "entered %s before join_at", joinAt.Sub(enteredAt))
	require.Less(t, enteredAt.Sub(joinAt), 500*time.Millisecond, "entered late")
	require.Positive(t, f.heartbeats, "it beat while it waited")
}

// Told to leave while it waits: it never enters, and is done.
func TestLeaveWhileWaitingToJoin(t *testing.T) {
	t.Parallel()
	f := newFake()
	joinAt := time.Now().Add(time.Hour)
	f.cfg.JoinAt = &joinAt
	f.shouldLeave = true

	require.Equal(t, 0, simulate(context.Background(), t, f, Settings{}))
	require.Equal(t, []botproto.Status{botproto.StatusReady, done}, f.statusList())
}

// Without join_at, or with one passed already, nothing changes.
func TestJoinAtPassedEntersAtOnce(t *testing.T) {
	t.Parallel()
	f := newFake()
	joinAt := time.Now().Add(-time.Minute)
	f.cfg.JoinAt = &joinAt
	require.Equal(t, 0, simulate(context.Background(), t, f, Settings{CallDuration: time.Second}))
	require.Equal(t, []botproto.Status{joining, inCall, leaving, done}, f.statusList())
}
