package botsim

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/botproto"
	"github.com/meeboter/meeboter/pkg/platform/simcontainer"
)

// syncBuffer is a log sink safe for the goroutines of one bot.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func botEnv(url, botID, token string) map[string]string {
	return map[string]string{
		botproto.EnvBotID: botID, botproto.EnvAuthToken: token, botproto.EnvCallbackURL: url,
		botproto.EnvMeetingURL: "https://zoom.us/j/1", botproto.EnvMeetingPlatform: botproto.PlatformZoom,
	}
}

func slotEnv(url string) map[string]string {
	return map[string]string{
		botproto.EnvPoolSlotUUID: testSlotUUID, botproto.EnvPoolSlotToken: testSlotToken, botproto.EnvCallbackURL: url,
	}
}

// goRun starts RunWithEnv and returns its exit code channel.
func goRun(ctx context.Context, env map[string]string, set Settings, opts ...Option) <-chan int {
	ch := make(chan int, 1)
	go func() { ch <- RunWithEnv(ctx, env, set, opts...) }()
	return ch
}

// within waits for an exit code, failing after d.
func within(t *testing.T, ch <-chan int, d time.Duration) int {
	t.Helper()
	select {
	case code := <-ch:
		return code
	case <-time.After(d):
		t.Fatalf("still running after %v", d)
		return -1
	}
}

func TestRunWithEnvPlaysOneMeeting(t *testing.T) {
	t.Parallel()
	f := newFake()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	var logs syncBuffer

	code := within(t, goRun(context.Background(), botEnv(srv.URL, testBotID, testToken), Settings{CallDuration: time.Second, ExitCode: 4},
		WithSleep(fastSleep), WithLogger(slog.New(slog.NewTextHandler(&logs, nil)))), 10*time.Second)

	require.Equal(t, 4, code)
	require.Equal(t, []botproto.Status{joining, inCall, leaving, done}, f.statusList())
	require.Contains(t, logs.String(), "bot_id="+testBotID)
	require.NotContains(t, logs.String(), testToken)
}

func TestRunWithEnvStopsPromptlyOnCancel(t *testing.T) {
	t.Parallel()
	f := newFake()
	inCallReached := make(chan struct{})
	f.onStatus = func(s botproto.Status) {
		if s == inCall {
			close(inCallReached)
		}
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// Real time: a call that would last an hour.
	exited := goRun(ctx, botEnv(srv.URL, testBotID, testToken), Settings{CallDuration: time.Hour})
	select {
	case <-inCallReached:
	case <-time.After(10 * time.Second):
		t.Fatal("meeting did not start")
	}
	cancel()

	require.Equal(t, 0, within(t, exited, 2*time.Second))
	require.Equal(t, []botproto.Status{joining, inCall, leaving, done}, f.statusList())
	require.Equal(t, "signal", f.leavingReason())
}

// A simulated container killed (a crash, an OOM kill) is a process gone at
// once: no goodbye, exit 137, as Docker reports a SIGKILL.
func TestRunWithEnvKilledSaysNothingMore(t *testing.T) {
	t.Parallel()
	f := newFake()
	inCallReached := make(chan struct{})
	f.onStatus = func(s botproto.Status) {
		if s == inCall {
			close(inCallReached)
		}
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	ctx, kill := context.WithCancelCause(context.Background())
	defer kill(nil)
	exited := goRun(ctx, botEnv(srv.URL, testBotID, testToken), Settings{CallDuration: time.Hour})
	select {
	case <-inCallReached:
	case <-time.After(10 * time.Second):
		t.Fatal("meeting did not start")
	}
	kill(fmt.Errorf("container crashed: %w", simcontainer.ErrKilled))

	require.Equal(t, 137, within(t, exited, 2*time.Second))
	require.Equal(t, []botproto.Status{joining, inCall}, f.statusList())
}

func TestRunWithEnvIdleSlotStopsPromptlyOnCancel(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.assign = func(int) (int, botproto.Assignment) {
		return http.StatusOK, botproto.Assignment{RetryAfterSeconds: 3600}
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	exited := goRun(ctx, slotEnv(srv.URL), Settings{})
	select {
	case <-f.onAssign:
	case <-time.After(10 * time.Second):
		t.Fatal("slot did not ask for an assignment")
	}
	cancel()

	require.Equal(t, 0, within(t, exited, 2*time.Second))
	require.Equal(t, 1, f.assignmentCount())
}

func TestRunWithEnvGoodbyeIsTimeBoxed(t *testing.T) {
	t.Parallel()
	f := newFake()
	inCallReached := make(chan struct{})
	release := make(chan struct{})
	f.onStatus = func(s botproto.Status) {
		if s == inCall {
			close(inCallReached)
		}
	}
	// The controller hangs on the goodbye.
	f.beforeStatus = func(s botproto.Status) {
		if s == leaving {
			<-release
		}
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs before srv.Close
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	exited := goRun(ctx, botEnv(srv.URL, testBotID, testToken), Settings{CallDuration: time.Hour},
		WithShutdownTimeout(100*time.Millisecond))
	select {
	case <-inCallReached:
	case <-time.After(10 * time.Second):
		t.Fatal("meeting did not start")
	}
	start := time.Now()
	cancel()

	require.Equal(t, 0, within(t, exited, 2*time.Second))
	require.Less(t, time.Since(start), time.Second)
}

func TestRunWithEnvRejectsBadInput(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	log := WithLogger(slog.New(slog.NewTextHandler(&logs, nil)))
	ctx := context.Background()

	require.Equal(t, ExitUsage, RunWithEnv(ctx, nil, Settings{}, log))
	require.Contains(t, logs.String(), botproto.EnvPoolSlotUUID)
	require.Equal(t, ExitUsage, RunWithEnv(ctx, map[string]string{botproto.EnvBotID: testBotID}, Settings{}, log))
	require.Contains(t, logs.String(), botproto.EnvAuthToken)
	require.Equal(t, ExitUsage, RunWithEnv(ctx, botEnv("http://127.0.0.1:1", testBotID, testToken), Settings{ExitCode: 256}, log))
	require.Contains(t, logs.String(), "exit code")
	require.NotContains(t, logs.String(), testToken)
}

// TestSimulatorsDoNotInterfere runs several bots in one process at once,
// each against its own controller with its own identity and settings.
func TestSimulatorsDoNotInterfere(t *testing.T) {
	t.Parallel()
	const (
		otherBot   = "3e9d7c1b-5a2f-4e8d-b0c6-7a1f9e2d4b88"
		otherToken = "other-secret"
	)
	a, b, slot := newFake(), newFake(), newFake()
	b.botID, b.token, b.cfg.BotID = otherBot, otherToken, otherBot
	b.cfg.Metadata = map[string]any{"simulate": map[string]any{"waiting_room_seconds": 2, "exit_code": 3}}
	slot.assign = func(n int) (int, botproto.Assignment) {
		if n == 1 {
			return http.StatusOK, assigned(slot, testBotID, testToken)
		}
		return idle()
	}
	srvA, srvB, srvSlot := httptest.NewServer(a), httptest.NewServer(b), httptest.NewServer(slot)
	t.Cleanup(srvA.Close)
	t.Cleanup(srvB.Close)
	t.Cleanup(srvSlot.Close)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logsA, logsB syncBuffer

	slotExited := goRun(ctx, slotEnv(srvSlot.URL), Settings{CallDuration: 3 * time.Second}, WithSleep(fastSleep))
	exitedA := goRun(ctx, botEnv(srvA.URL, testBotID, testToken), Settings{CallDuration: 5 * time.Second},
		WithSleep(fastSleep), WithLogger(slog.New(slog.NewTextHandler(&logsA, nil))))
	exitedB := goRun(ctx, botEnv(srvB.URL, otherBot, otherToken), Settings{CallDuration: 5 * time.Second, CrashAt: leaving},
		WithSleep(fastSleep), WithLogger(slog.New(slog.NewTextHandler(&logsB, nil))))

	require.Equal(t, 0, within(t, exitedA, 10*time.Second))
	require.Equal(t, 1, within(t, exitedB, 10*time.Second)) // crashes at LEAVING
	require.Equal(t, []botproto.Status{joining, inCall, leaving, done}, a.statusList())
	require.Equal(t, []botproto.Status{joining, waiting, inCall}, b.statusList())
	require.Contains(t, logsA.String(), testBotID)
	require.NotContains(t, logsA.String(), otherBot)
	require.Contains(t, logsB.String(), otherBot)
	require.NotContains(t, logsB.String(), testBotID)

	waitAssignments(t, slot, slotExited, 3)
	require.Equal(t, []botproto.Status{joining, inCall, leaving, done}, slot.statusList())
	cancel()
	require.Equal(t, 0, within(t, slotExited, 2*time.Second))
}

func TestRunPoolModeFromCommandLine(t *testing.T) {
	t.Parallel()
	f := newFake()
	f.assign = func(n int) (int, botproto.Assignment) {
		if n == 1 {
			f.token = "attempt-secret-42"
			return http.StatusOK, assigned(f, testBotID, "attempt-secret-42")
		}
		return http.StatusOK, botproto.Assignment{RetryAfterSeconds: 3600}
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env := slotEnv(srv.URL)
	env[EnvCallSeconds] = "0.05"
	var stderr syncBuffer

	exited := make(chan int, 1)
	go func() { exited <- Run(ctx, envOf(env), []string{"--simulate"}, &stderr) }()
	waitAssignments(t, f, exited, 2)
	cancel()

	require.Equal(t, 0, within(t, exited, 2*time.Second))
	require.Equal(t, []botproto.Status{joining, inCall, leaving, done}, f.statusList())
	logs := stderr.String()
	require.Contains(t, logs, "pool_slot="+testSlotUUID)
	require.Contains(t, logs, "bot_id="+testBotID)
	for _, secret := range []string{testSlotToken, "attempt-secret-42"} {
		require.False(t, strings.Contains(logs, secret), "logs leak a token")
	}
}
