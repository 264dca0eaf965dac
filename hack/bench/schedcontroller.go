package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// controller is `meeboter serve` as a process, so it can be SIGKILLed: its
// address stays across incarnations (the bots call it back there), its
// process comes and goes.
type controller struct {
	bin, addr, logDir string
	env               []string

	mu          sync.Mutex
	incarnation int
	proc        *exec.Cmd
	exited      chan struct{}
}

// newController picks a free loopback address for the API.
func newController(bin, logDir string, env []string) (*controller, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return &controller{bin: bin, addr: addr, logDir: logDir, env: env}, nil
}

func (c *controller) url() string { return "http://" + c.addr }

// serveEnv is the whole environment of one incarnation.
func (c *controller) serveEnv() []string {
	base := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "TMPDIR=" + os.TempDir(),
		"HTTP_ADDR=" + c.addr, "PUBLIC_URL=" + c.url(), "REPLICA_ID=bench-" + fmt.Sprint(c.incarnation),
		"METRICS_ADDR=127.0.0.1:0"} // not the default port, which a dev controller may hold
	return append(base, c.env...)
}

// start runs a new incarnation, its output in its own log file, in its own
// process group and killed with the bench (Pdeathsig) if the bench dies.
func (c *controller) start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.incarnation++
	log, err := os.Create(filepath.Join(c.logDir, fmt.Sprintf("controller-%d.log", c.incarnation)))
	if err != nil {
		return err
	}
	cmd := exec.Command(c.bin, "serve")
	cmd.Env = c.serveEnv()
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = childProcAttr()
	exited := make(chan struct{})
	started := make(chan error, 1)
	go func() {
		// The parent-death signal fires when the thread that forked the
		// child exits: keep this goroutine on its thread while it runs.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
		_ = log.Close()
		close(exited)
	}()
	if err := <-started; err != nil {
		_ = log.Close()
		return fmt.Errorf("start %s: %w", c.bin, err)
	}
	c.proc, c.exited = cmd, exited
	return nil
}

// ready waits until the running incarnation answers /readyz 200.
func (c *controller) ready(ctx context.Context, timeout time.Duration) error {
	c.mu.Lock()
	exited := c.exited
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		if probe(ctx, client, c.url()+"/readyz") {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("meeboter serve exited while starting; see %s", c.logDir)
		case <-ctx.Done():
			return fmt.Errorf("meeboter serve not ready after %s: %w", timeout, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func probe(ctx context.Context, client *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
	if err != nil {
		return false
	}
	res, err := client.Do(req)
	if err != nil {
		return false
	}
	_ = res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// kill SIGKILLs the running incarnation and waits until it is gone.
func (c *controller) kill() {
	c.mu.Lock()
	proc, exited := c.proc, c.exited
	c.mu.Unlock()
	if proc == nil {
		return
	}
	_ = proc.Process.Signal(syscall.SIGKILL)
	<-exited
}

// alive reports whether the running incarnation is still running.
func (c *controller) alive() bool {
	c.mu.Lock()
	exited := c.exited
	c.mu.Unlock()
	select {
	case <-exited:
		return false
	default:
		return true
	}
}

// buildMeeboter builds cmd/meeboter into dir from this module, as it is
// in the working tree.
func buildMeeboter(ctx context.Context, dir string) (string, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+string(os.PathSeparator), "./cmd/meeboter")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/meeboter: %w\n%s", err, out.String())
	}
	return filepath.Join(dir, "meeboter"), nil
}

// moduleRoot is the directory of the main module's go.mod.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside the meeboter module (go env GOMOD is %q)", gomod)
	}
	return filepath.Dir(gomod), nil
}

// sourceRevision names what the controller was built from: the commit,
// and whether the tree the build read had changes on top of it.
func sourceRevision(ctx context.Context) string {
	root, err := moduleRoot(ctx)
	if err != nil {
		return "unknown"
	}
	head, err := exec.CommandContext(ctx, "git", "-C", root, "log", "--oneline", "-1").Output()
	if err != nil {
		return "unknown"
	}
	rev := strings.TrimSpace(string(head))
	dirty, err := exec.CommandContext(ctx, "git", "-C", root, "status", "--porcelain", "--untracked-files=all",
		"--", "cmd", "controllers", "pkg", "migrations").Output()
	if err == nil && len(bytes.TrimSpace(dirty)) > 0 {
		rev += fmt.Sprintf(" + uncommitted changes (%d files)", bytes.Count(bytes.TrimSpace(dirty), []byte("\n"))+1)
	}
	return rev
}

// meeboterCmd runs a one-shot meeboter command against the database.
func meeboterCmd(ctx context.Context, bin, dbURL string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "DATABASE_URL=" + dbURL}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("meeboter %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// createAPIKey makes the key the scenario's bots are created with.
func createAPIKey(ctx context.Context, bin, dbURL string) (string, error) {
	out, err := meeboterCmd(ctx, bin, dbURL, "apikey", "create", "--owner", "bench", "--name", "scheduled")
	if err != nil {
		return "", err
	}
	for line := range strings.SplitSeq(out, "\n") {
		if k, ok := strings.CutPrefix(strings.TrimSpace(line), "key: "); ok {
			return k, nil
		}
	}
	return "", fmt.Errorf("no key in %q", out)
}

// startServe starts `meeboter serve` with env (its logs in logDir), kills
// it at cleanup, and returns once it is ready, with a user API client
// holding apiKey.
func startServe(ctx context.Context, bin, logDir string, env []string, apiKey string, cleanup *[]func()) (*controller, *userAPI, error) {
	c, err := newController(bin, logDir, env)
	if err != nil {
		return nil, nil, err
	}
	if err := c.start(); err != nil {
		return nil, nil, err
	}
	*cleanup = append(*cleanup, c.kill)
	err = c.ready(ctx, 90*time.Second)
	return c, newUserAPI(c.url(), apiKey), err
}
