package local

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/platform"
)

// The bot command of these tests is this test binary itself: TestMain turns
// it into a tiny bot when helperEnv is set (through the workload env, the
// only way in). Unlike a shell script it starts no child processes, so every
// process a test sees is exactly one workload.
const helperEnv = "LOCAL_TEST_BOT"

// Bot behaviours, the values of helperEnv.
const (
	botRun        = "run"         // print "started", exit 0 on SIGTERM
	botIgnoreTerm = "ignore-term" // print "started", ignore SIGTERM
	botExitPrefix = "exit="       // exit at once with the given code
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(helperBot(mode))
	}
	os.Exit(m.Run())
}

func helperBot(mode string) int {
	if code, ok := strings.CutPrefix(mode, botExitPrefix); ok {
		n, _ := strconv.Atoi(code)
		return n
	}
	term := make(chan os.Signal, 1)
	if mode == botIgnoreTerm {
		signal.Ignore(syscall.SIGTERM)
	} else {
		signal.Notify(term, syscall.SIGTERM)
	}
	fmt.Println("started")
	select {
	case <-term:
		return 0
	case <-time.After(time.Minute): // a leaked bot goes away on its own
		return 1
	}
}

// harness is one platform instance (one state dir) with its bots' exits.
type harness struct {
	t   *testing.T
	dir string
	p   *Platform

	mu     sync.Mutex
	exited map[string]chan struct{} // closed when the child of that name is reaped
	names  []string                 // workloads started by this process
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	h := &harness{t: t, dir: t.TempDir(), exited: map[string]chan struct{}{}}
	h.p = h.platform(cfg)
	t.Cleanup(h.cleanup)
	return h
}

// platform opens another Platform on the harness's state dir, like a
// restarted controller.
func (h *harness) platform(cfg Config) *Platform {
	h.t.Helper()
	exe, err := os.Executable()
	require.NoError(h.t, err)
	cfg.StateDir = h.dir
	if len(cfg.Command) == 0 {
		cfg.Command = []string{exe, "-test.run=^$"}
	}
	cfg.OnExit = func(name string) {
		ch := h.exitChan(name)
		select {
		case <-ch:
		default:
			close(ch)
		}
	}
	p, err := New(cfg)
	require.NoError(h.t, err)
	return p
}

func (h *harness) exitChan(name string) chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch, ok := h.exited[name]
	if !ok {
		ch = make(chan struct{})
		h.exited[name] = ch
	}
	return ch
}

// cleanup kills whatever this instance still runs and waits until every
// child is reaped, so nothing writes into the state dir while it is removed.
func (h *harness) cleanup() {
	procs, err := scanProcs(h.p.instance)
	require.NoError(h.t, err)
	for _, pr := range procs {
		signalGroup(pr.pid, syscall.SIGKILL)
	}
	h.mu.Lock()
	names := slices.Clone(h.names)
	h.mu.Unlock()
	for _, name := range names {
		h.waitExit(name)
	}
}

func (h *harness) waitExit(name string) {
	h.t.Helper()
	select {
	case <-h.exitChan(name):
	case <-time.After(10 * time.Second):
		h.t.Fatalf("workload %s did not exit", name)
	}
}

func workload(name, mode string) platform.Workload {
	return platform.Workload{Name: name, BotID: "bot-" + name, Attempt: 1, MeetingPlatform: "zoom",
		Env: map[string]string{helperEnv: mode, "BOT_ID": "bot-" + name, "MEETING_URL": "https://zoom.us/j/123",
			// Under -race a bot would linger a second at exit.
			"GORACE": "atexit_sleep_ms=0"}}
}

// create starts w with p and waits until the bot has said "started".
func (h *harness) create(p *Platform, w platform.Workload) int {
	h.t.Helper()
	id, err := p.Create(context.Background(), w)
	require.NoError(h.t, err)
	pid, err := strconv.Atoi(id)
	require.NoError(h.t, err, "external id is the pid")
	h.mu.Lock()
	if !slices.Contains(h.names, w.Name) {
		h.names = append(h.names, w.Name)
	}
	h.mu.Unlock()
	if !strings.HasPrefix(w.Env[helperEnv], botExitPrefix) {
		require.Eventually(h.t, func() bool {
			b, _ := os.ReadFile(filepath.Join(h.dir, w.Name+".log"))
			return strings.Contains(string(b), "started")
		}, 10*time.Second, 5*time.Millisecond, "bot %s never started", w.Name)
	}
	return pid
}

func list(t *testing.T, p *Platform) map[string][]platform.Listed {
	t.Helper()
	ls, err := p.List(context.Background())
	require.NoError(t, err)
	byName := map[string][]platform.Listed{}
	for _, l := range ls {
		byName[l.Name] = append(byName[l.Name], l)
	}
	return byName
}

func environ(t *testing.T, pid int) []string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	require.NoError(t, err)
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}

func gone(pid int) bool {
	st, ok := readStat(pid)
	return !ok || st.zombie
}

// Not parallel: t.Setenv.
func TestCreateGivesOnlyTheWorkloadEnv(t *testing.T) {
	t.Setenv("MEEBOTER_TEST_SECRET", "s3cr3t")
	t.Setenv("DATABASE_URL", "postgres://secret@db/meeboter")
	h := newHarness(t, Config{})
	w := workload("meeboter-env-1", botRun)
	pid := h.create(h.p, w)

	want := []string{envInstance + "=" + h.p.instance, envWorkload + "=" + w.Name}
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "LANG", "TZ"} {
		if v, ok := os.LookupEnv(k); ok {
			want = append(want, k+"="+v)
		}
	}
	for k, v := range w.Env {
		want = append(want, k+"="+v)
	}
	got := environ(t, pid)
	require.ElementsMatch(t, want, got)
	for _, kv := range got {
		require.NotContains(t, kv, "s3cr3t")
		require.NotContains(t, kv, "DATABASE_URL")
	}
}

func TestCreateTwiceAdopts(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	w := workload("meeboter-adopt-1", botRun)
	pid := h.create(h.p, w)

	id, err := h.p.Create(context.Background(), w)
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(pid), id)

	procs, err := scanProcs(h.p.instance)
	require.NoError(t, err)
	require.Len(t, procs, 1, "no second process")
	l := list(t, h.p)[w.Name]
	require.Len(t, l, 1)
	require.Equal(t, platform.PhaseRunning, l[0].Phase)
	require.Equal(t, strconv.Itoa(pid), l[0].ExternalID)
}

func TestRestartedControllerFindsAndStops(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	w := workload("meeboter-restart-1", botRun)
	pid := h.create(h.p, w)

	p2 := h.platform(Config{}) // the controller after a restart
	require.Equal(t, h.p.instance, p2.instance, "same state dir, same instance")
	l, found, err := p2.Lookup(context.Background(), w.Name)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, strconv.Itoa(pid), l.ExternalID)
	require.Equal(t, platform.PhaseRunning, l.Phase)

	listed := list(t, p2)[w.Name]
	require.Len(t, listed, 1)
	require.Equal(t, strconv.Itoa(pid), listed[0].ExternalID)

	// Adopting Create in the new controller starts nothing.
	id, err := p2.Create(context.Background(), w)
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(pid), id)

	stopGone(t, p2, w.Name, l.ExternalID)
	require.True(t, gone(pid))
	h.waitExit(w.Name)
	_, found, err = p2.Lookup(context.Background(), w.Name)
	require.NoError(t, err)
	require.False(t, found)
}

func TestListReportsExitCode(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	w := workload("meeboter-exit-1", botExitPrefix+"3")
	h.create(h.p, w)
	h.waitExit(w.Name)

	l := list(t, h.p)[w.Name]
	require.Len(t, l, 1)
	require.Equal(t, platform.PhaseExited, l[0].Phase)
	require.NotNil(t, l[0].ExitCode)
	require.Equal(t, 3, *l[0].ExitCode)
	_, found, err := h.p.Lookup(context.Background(), w.Name)
	require.NoError(t, err)
	require.False(t, found, "Lookup finds live workloads only")
}

func TestStop(t *testing.T) {
	t.Parallel()
	t.Run("TERM", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, Config{StopGrace: time.Minute})
		w := workload("meeboter-stop-term", botRun)
		pid := h.create(h.p, w)
		start := time.Now()
		stopGone(t, h.p, w.Name, strconv.Itoa(pid))
		require.Less(t, time.Since(start), 30*time.Second, "a bot that honours SIGTERM is not killed")
		require.True(t, gone(pid))
		require.NoFileExists(t, filepath.Join(h.dir, w.Name+".json"))
	})
	t.Run("KILL after grace", func(t *testing.T) {
		t.Parallel()
		const grace = 300 * time.Millisecond
		h := newHarness(t, Config{StopGrace: grace})
		w := workload("meeboter-stop-kill", botIgnoreTerm)
		pid := h.create(h.p, w)
		start := time.Now()
		stopGone(t, h.p, w.Name, strconv.Itoa(pid))
		require.GreaterOrEqual(t, time.Since(start), grace, "SIGKILL only after the grace period")
		require.True(t, gone(pid))
		h.waitExit(w.Name)
	})
	t.Run("unknown", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, Config{})
		stopGone(t, h.p, "meeboter-nobody-1", "")
		stopGone(t, h.p, "meeboter-nobody-1", "999999")
	})
}

// A crash between starting the process and writing its record leaves a
// process with no record: /proc still shows it, by its tags.
func TestUnrecordedProcessIsFound(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	w := workload("meeboter-unrecorded-1", botRun)
	pid := h.create(h.p, w)
	require.NoError(t, os.Remove(filepath.Join(h.dir, w.Name+".json")))

	p2 := h.platform(Config{})
	l := list(t, p2)[w.Name]
	require.Len(t, l, 1)
	require.Equal(t, platform.PhaseRunning, l[0].Phase)
	require.Equal(t, strconv.Itoa(pid), l[0].ExternalID)
	require.WithinDuration(t, time.Now(), l[0].CreatedAt, time.Minute, "start time from /proc")

	got, found, err := p2.Lookup(context.Background(), w.Name)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, strconv.Itoa(pid), got.ExternalID)

	id, err := p2.Create(context.Background(), w)
	require.NoError(t, err)
	require.Equal(t, strconv.Itoa(pid), id, "adopted, not duplicated")

	stopGone(t, p2, w.Name, got.ExternalID)
	require.True(t, gone(pid))
}

func TestOtherInstanceIsNotListed(t *testing.T) {
	t.Parallel()
	a := newHarness(t, Config{})
	b := newHarness(t, Config{})
	require.NotEqual(t, a.p.instance, b.p.instance)
	w := workload("meeboter-mine-1", botRun)
	pid := a.create(a.p, w)

	require.Empty(t, list(t, b.p))
	_, found, err := b.p.Lookup(context.Background(), w.Name)
	require.NoError(t, err)
	require.False(t, found)
	stopGone(t, b.p, w.Name, strconv.Itoa(pid))
	require.False(t, gone(pid), "another instance's Stop leaves it alone")
	require.Len(t, list(t, a.p)[w.Name], 1)
}

// A real bot starts children (a browser, ffmpeg); they inherit its tags but
// are part of its workload, not workloads of their own.
func TestBotChildrenAreOneWorkload(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{Command: []string{"/bin/sh", "-c", "sleep 60 & echo started; wait"}})
	w := workload("meeboter-children-1", "")
	pid := h.create(h.p, w)

	l := list(t, h.p)[w.Name]
	require.Len(t, l, 1)
	require.Equal(t, strconv.Itoa(pid), l[0].ExternalID)
	require.NoError(t, os.Remove(filepath.Join(h.dir, w.Name+".json")))
	got, found, err := h.p.Lookup(context.Background(), w.Name)
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, strconv.Itoa(pid), got.ExternalID)
}

// stopGone stops a workload and checks nothing of it is left when Stop returns.
func stopGone(t *testing.T, p *Platform, name, externalID string) {
	t.Helper()
	gone, err := p.Stop(context.Background(), name, externalID)
	require.NoError(t, err)
	require.True(t, gone, "a stopped process is gone")
}
