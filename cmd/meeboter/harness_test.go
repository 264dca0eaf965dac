package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/hack/devenv/pgtest"
	"github.com/meeboter/meeboter/hack/devenv/storetest"
	"github.com/meeboter/meeboter/pkg/platform"
	"github.com/meeboter/meeboter/pkg/platform/local"
)

// binDir holds meeboter and meeboter-bot, built once for the package.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "meeboter-e2e-bin-")
	if err == nil {
		binDir = dir
		err = buildBinaries(dir)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build binaries:", err)
		os.Exit(1)
	}
	code := pgtest.Run(m)
	_ = os.RemoveAll(binDir)
	os.Exit(code)
}

func buildBinaries(dir string) error {
	cmd := exec.Command("go", "build", "-o", dir+"/", "github.com/meeboter/meeboter/cmd/meeboter", "github.com/meeboter/meeboter/cmd/meeboter-bot")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

// system is one database and local state directory that controller
// processes (one, a restarted one, or two replicas) share.
type system struct {
	t        *testing.T
	dbURL    string
	stateDir string
	apiKey   string
	// webhookSecret signs tenant e2e's callbacks (shown with its first key).
	webhookSecret string
	extraEnv      []string
	view          *local.Platform // what a controller would see of the bot processes
}

func newSystem(t *testing.T, extraEnv ...string) *system {
	t.Helper()
	s := &system{t: t, dbURL: storetest.NewDatabase(t), stateDir: t.TempDir(), extraEnv: extraEnv}
	var err error
	s.view, err = local.New(local.Config{StateDir: s.stateDir, Command: []string{"sleep", "300"}, StopGrace: time.Second})
	require.NoError(t, err)
	t.Cleanup(s.killBots)
	out := s.run("migrate")
	require.Contains(t, out, "migrated")
	out = s.run("apikey", "create", "--owner", "e2e", "--name", t.Name())
	for _, line := range strings.Split(out, "\n") {
		if k, ok := strings.CutPrefix(line, "key: "); ok {
			s.apiKey = k
		}
		if k, ok := strings.CutPrefix(line, "webhook secret: "); ok {
			s.webhookSecret = k
		}
	}
	require.NotEmpty(t, s.apiKey, out)
	require.NotEmpty(t, s.webhookSecret, out)
	return s
}

func (s *system) env(addr string) []string {
	return append([]string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(),
		"DATABASE_URL=" + s.dbURL, "HTTP_ADDR=" + addr, "LOCAL_STATE_DIR=" + s.stateDir,
		// Controllers run side by side: each on a port of its own for
		// /metrics, unless the test names one to scrape.
		"METRICS_ADDR=127.0.0.1:0",
		"LOG_FORMAT=json", "LOG_LEVEL=info",
		"RESYNC_INTERVAL=1s", "OBSERVE_INTERVAL=500ms", "GC_INTERVAL=2s", "GC_GRACE=5s", "JOB_TIMEOUT=5s",
		"BOT_HEARTBEAT_INTERVAL=1s", "HEARTBEAT_TIMEOUT=30s", "LEAVE_TIMEOUT=10s", "LOCAL_BOT_LIMIT=100",
	}, s.extraEnv...)
}

func (s *system) run(args ...string) string {
	s.t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "meeboter"), args...)
	cmd.Env = s.env("127.0.0.1:0")
	out, err := cmd.CombinedOutput()
	require.NoError(s.t, err, string(out))
	return string(out)
}

// controller is one `meeboter serve` process.
type controller struct {
	cmd  *exec.Cmd
	addr string
	logs *lockedBuffer
	done chan struct{}
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// start runs `meeboter serve` on addr and waits until it is ready.
func (s *system) start(addr string, logs *lockedBuffer) *controller {
	s.t.Helper()
	c := &controller{addr: addr, logs: logs, done: make(chan struct{})}
	c.cmd = exec.Command(filepath.Join(binDir, "meeboter"), "serve")
	c.cmd.Env = s.env(addr)
	c.cmd.Stdout, c.cmd.Stderr = logs, logs
	require.NoError(s.t, c.cmd.Start())
	go func() { _ = c.cmd.Wait(); close(c.done) }()
	s.t.Cleanup(func() {
		c.kill()
		if s.t.Failed() {
			path := filepath.Join(os.TempDir(), "meeboter-"+strings.ReplaceAll(s.t.Name(), "/", "_")+"-serve.log")
			_ = os.WriteFile(path, []byte(logs.String()), 0o600)
			s.t.Logf("serve %s logs (all of them in %s):\n%s", addr, path, tail(logs.String(), 30))
			s.dumpBotLogs()
		}
	})
	require.Eventually(s.t, func() bool {
		select {
		case <-c.done:
			s.t.Fatalf("serve exited early:\n%s", logs.String())
		default:
		}
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, 30*time.Second, 20*time.Millisecond)
	return c
}

// kill SIGKILLs the controller (a crash at an arbitrary point).
func (c *controller) kill() {
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

// stop asks the controller to shut down gracefully.
func (c *controller) stop(t *testing.T) {
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within 30 s")
	}
}

// botProcesses returns the live bot processes by workload name.
func (s *system) botProcesses() map[string]int {
	listed, err := s.view.List(context.Background())
	require.NoError(s.t, err)
	live := map[string]int{}
	for _, l := range listed {
		if l.Phase == platform.PhaseRunning {
			live[l.Name]++
		}
	}
	return live
}

func (s *system) killBots() {
	listed, _ := s.view.List(context.Background())
	for _, l := range listed {
		_, _ = s.view.Stop(context.Background(), l.Name, l.ExternalID)
	}
}

// botOf returns the bot id of a workload name meeboter-<uuid>-<attempt>.
func botOf(name string) string {
	name = strings.TrimPrefix(name, "meeboter-")
	return name[:strings.LastIndexByte(name, '-')]
}

type botView struct {
	ID           string  `json:"id"`
	Status       string  `json:"status"`
	StatusReason *string `json:"status_reason"`
	Attempt      int     `json:"attempt"`
}

// api calls the user API at addr; it returns the status code and decodes
// the body into out (if not nil).
func (s *system) api(addr, method, path string, body any, out any, headers ...string) (int, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+addr+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+s.apiKey)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil && resp.StatusCode < 300 {
		err = json.Unmarshal(raw, out)
	}
	return resp.StatusCode, err
}

func (s *system) createBot(addr string, body map[string]any) botView {
	s.t.Helper()
	var b botView
	code, err := s.api(addr, http.MethodPost, "/api/v1/bots", body, &b)
	require.NoError(s.t, err)
	require.Equal(s.t, http.StatusCreated, code)
	return b
}

func (s *system) getBot(addr, id string) botView {
	s.t.Helper()
	var b botView
	code, err := s.api(addr, http.MethodGet, "/api/v1/bots/"+id, nil, &b)
	require.NoError(s.t, err)
	require.Equal(s.t, http.StatusOK, code)
	return b
}

// waitStatus polls a bot until its status is one of want.
func (s *system) waitStatus(addr, id string, timeout time.Duration, want ...string) botView {
	s.t.Helper()
	var b botView
	require.Eventually(s.t, func() bool {
		b = s.getBot(addr, id)
		for _, w := range want {
			if b.Status == w {
				return true
			}
		}
		return false
	}, timeout, 20*time.Millisecond, "bot %s never reached %v", id, want)
	return b
}

func (s *system) events(addr, id string) []string {
	s.t.Helper()
	var list struct {
		Events []struct {
			Type string `json:"type"`
		} `json:"events"`
	}
	code, err := s.api(addr, http.MethodGet, "/api/v1/bots/"+id+"/events?limit=1000", nil, &list)
	require.NoError(s.t, err)
	require.Equal(s.t, http.StatusOK, code)
	var types []string
	for _, e := range list.Events {
		types = append(types, e.Type)
	}
	return types
}

func simulate(opts map[string]any) map[string]any {
	return map[string]any{"meeting_url": "https://meet.google.com/abc-defg-hij", "metadata": map[string]any{"simulate": opts}}
}

func tail(s string, lines int) string {
	all := strings.Split(s, "\n")
	return strings.Join(all[max(0, len(all)-lines):], "\n")
}

// dumpBotLogs logs the end of a few bot logs, for a failed test.
func (s *system) dumpBotLogs() {
	logs, _ := filepath.Glob(filepath.Join(s.stateDir, "*.log"))
	for _, l := range logs[:min(len(logs), 3)] {
		b, _ := os.ReadFile(l)
		s.t.Logf("%s:\n%s", filepath.Base(l), tail(string(b), 15))
	}
}
