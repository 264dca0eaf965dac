package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// simProc is one simulator process (hack/sim) with its in-process bots.
type simProc struct {
	name  string // "coolify" or "ecs"
	child *child
	env   map[string]string // what it printed for the controller
	base  string            // its root URL (the /_sim/ endpoints live here)
	token string            // bearer of the /_sim/ endpoints
	http  *http.Client
}

// simArgs are the simulators' flags: in-process bots, short latencies,
// the real rate limits on.
var simArgs = map[string][]string{
	"coolify": {"--sim-bots", "--cold-start", "5s", "--warm-start", "500ms", "--concurrent-builds", "4",
		"--rate-limit", "800", "--delete-delay", "200ms"},
	"ecs": {"--sim-bots", "--provisioning-delay", "300ms", "--pending-delay", "700ms", "--stop-delay", "400ms",
		"--stop-timeout", "10s"},
}

// baseKnobs are the knobs a fault window's end restores.
var baseKnobs = map[string]map[string]any{
	"coolify": {"error_rate": 0, "error_after_rate": 0, "storm_429_seconds": 0, "fail_lists": 0,
		"cold_start_ms": 5000, "warm_start_ms": 500, "status_lag_ms": 0},
	"ecs": {"error_rate": 0, "error_after_rate": 0, "throttle_storm_seconds": 0, "fail_lists": 0,
		"capacity_failures": 0, "capacity_unavailable_seconds": 0, "consistency_lag_ms": 0,
		"pending_delay_ms": 700},
}

// startSim runs `sim <name>` on a free port and reads the environment it
// prints.
func startSim(ctx context.Context, bin, name, logDir string) (*simProc, error) {
	args := append([]string{name, "--addr", "127.0.0.1:0"}, simArgs[name]...)
	cmd := exec.Command(bin, args...)
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	c, err := startChild(cmd, filepath.Join(logDir, "sim-"+name+".log"))
	if err != nil {
		return nil, err
	}
	go func() { <-c.exited; _ = pw.Close() }()
	env, err := readEnvLines(ctx, pr, map[string]int{"coolify": 4, "ecs": 5}[name])
	go func() { _, _ = io.Copy(io.Discard, pr) }()
	if err != nil {
		c.kill()
		return nil, fmt.Errorf("sim %s: %w (log: %s)", name, err, filepath.Join(logDir, "sim-"+name+".log"))
	}
	s := &simProc{name: name, child: c, env: env, http: &http.Client{Timeout: 30 * time.Second}}
	if name == "coolify" {
		s.base, s.token = strings.TrimSuffix(env["COOLIFY_API_URL"], "/api/v1"), env["COOLIFY_API_TOKEN"]
	} else {
		s.base, s.token = env["AWS_ENDPOINT_URL_ECS"], env["AWS_SECRET_ACCESS_KEY"]
	}
	return s, nil
}

// readEnvLines reads n KEY=VALUE lines.
func readEnvLines(ctx context.Context, r io.Reader, n int) (map[string]string, error) {
	type result struct {
		env map[string]string
		err error
	}
	done := make(chan result, 1)
	go func() {
		env := map[string]string{}
		sc := bufio.NewScanner(r)
		for len(env) < n && sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), "="); ok {
				env[k] = v
			}
		}
		if len(env) < n {
			done <- result{err: fmt.Errorf("printed %d of %d environment lines", len(env), n)}
			return
		}
		done <- result{env: env}
	}()
	select {
	case res := <-done:
		return res.env, res.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(30 * time.Second):
		return nil, fmt.Errorf("printed no environment within 30 s")
	}
}

// controllerEnv is what the simulator printed, for the replicas.
func (s *simProc) controllerEnv() []string {
	out := make([]string, 0, len(s.env))
	for k, v := range s.env {
		out = append(out, k+"="+v)
	}
	return out
}

// setKnobs posts fault knobs.
func (s *simProc) setKnobs(ctx context.Context, knobs map[string]any) error {
	_, err := s.call(ctx, http.MethodPost, "/_sim/knobs", knobs, nil)
	return err
}

// get reads a /_sim/ view into out.
func (s *simProc) get(ctx context.Context, path string, out any) error {
	_, err := s.call(ctx, http.MethodGet, path, nil, out)
	return err
}

// call sends one control request; a non-2xx answer is an error carrying
// its status.
func (s *simProc) call(ctx context.Context, method, path string, body, out any) (int, error) {
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	res, err := s.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("sim %s %s %s: %w", s.name, method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, err
	}
	if res.StatusCode >= 300 {
		return res.StatusCode, fmt.Errorf("sim %s %s %s: %s: %s", s.name, method, path, res.Status, bytes.TrimSpace(raw))
	}
	if out != nil {
		return res.StatusCode, json.Unmarshal(raw, out)
	}
	return res.StatusCode, nil
}

// play is what GET /_sim/bots lists: one meeting a container plays.
type play struct {
	Container string     `json:"container"`
	BotID     string     `json:"bot_id"`
	Attempt   int        `json:"attempt"`
	Since     time.Time  `json:"since"`
	Until     *time.Time `json:"until"`
	Killed    bool       `json:"killed"`
}

// plays is GET /_sim/bots.
type plays struct {
	Live  []play `json:"live"`
	Ended []play `json:"ended"`
}

func (s *simProc) plays(ctx context.Context, withEnded bool) (plays, error) {
	var p plays
	path := "/_sim/bots"
	if withEnded {
		path += "?ended=1"
	}
	err := s.get(ctx, path, &p)
	return p, err
}
