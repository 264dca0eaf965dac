package coolifysim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/hack/devenv/fakeclock"
)

// newFakeClock is the tests' clock, at a fixed start.
func newFakeClock() *fakeclock.Clock {
	return fakeclock.New(time.Date(2026, 8, 22, 10, 0, 0, 0, time.UTC))
}

// testToken is the token test simulators accept.
const testToken = "7|test-secret"

// client talks to one simulator the way the controller will, and checks
// every /api/v1 response against the OpenAPI document (with the documented
// deviations) through its transport.
type client struct {
	t     testing.TB
	base  string
	token string
	http  *http.Client
	vt    *validatingTransport
}

// newSim starts a simulator for one test with a validating client. Unset
// timings are short so lifecycles finish quickly.
func newSim(t testing.TB, cfg Config) (*Sim, *client) {
	t.Helper()
	if cfg.Token == "" {
		cfg.Token = testToken
	}
	if cfg.ColdStart == 0 {
		cfg.ColdStart = 20 * time.Millisecond
	}
	if cfg.WarmStart == 0 {
		cfg.WarmStart = 10 * time.Millisecond
	}
	if cfg.DeleteDelay == 0 {
		cfg.DeleteDelay = 10 * time.Millisecond
	}
	if cfg.RestartDelay == 0 {
		cfg.RestartDelay = time.Millisecond
	}
	s, srv := NewServer(t, cfg)
	vt := newValidatingTransport(t, t)
	return s, &client{t: t, base: srv.URL, token: cfg.Token, http: &http.Client{Transport: vt, CheckRedirect: noRedirects}, vt: vt}
}

// noRedirects shows a test Laravel's redirects instead of following them.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// resp is a buffered response.
type resp struct {
	status int
	header http.Header
	body   []byte
}

// decode unmarshals the body into v.
func (r resp) decode(t testing.TB, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.body, v), "body: %s", r.body)
}

// object is the body as a JSON object.
func (r resp) object(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.decode(t, &m)
	return m
}

// call sends method path (under /api/v1) with a JSON body (nil: none) and
// the client's token, Accept: application/json, and optional header pairs.
func (c *client) call(method, path string, body any, header ...string) resp {
	c.t.Helper()
	var rd io.Reader = http.NoBody
	if body != nil {
		var b []byte
		switch v := body.(type) {
		case string:
			b = []byte(v)
		default:
			var err error
			b, err = json.Marshal(v)
			require.NoError(c.t, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, c.url(path), rd)
	require.NoError(c.t, err)
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	res, err := c.http.Do(req)
	require.NoError(c.t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(c.t, err)
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

func (c *client) url(path string) string {
	if strings.HasPrefix(path, "/_sim/") || strings.HasPrefix(path, "/api/") {
		return c.base + path
	}
	return c.base + "/api/v1" + path
}

// createApp creates a dockerimage app with the simulator's project and
// server, plus extra fields, and returns its uuid.
func (c *client) createApp(s *Sim, extra map[string]any) string {
	c.t.Helper()
	body := map[string]any{
		"project_uuid": s.Config().ProjectUUID, "server_uuid": s.Config().ServerUUID,
		"environment_name": "production", "docker_registry_image_name": "ghcr.io/meeboter/bot:1.0",
		"ports_exposes": "3000", "autogenerate_domain": false, "instant_deploy": false,
	}
	for k, v := range extra {
		body[k] = v
	}
	r := c.call(http.MethodPost, "/applications/dockerimage", body)
	require.Equal(c.t, http.StatusCreated, r.status, "%s", r.body)
	uuid, _ := r.object(c.t)["uuid"].(string)
	require.Regexp(c.t, `^[a-z0-9]{24}$`, uuid)
	return uuid
}

// setEnv bulk-sets production variables.
func (c *client) setEnv(uuid string, kv map[string]string) {
	c.t.Helper()
	var data []map[string]any
	for k, v := range kv {
		data = append(data, map[string]any{"key": k, "value": v, "is_preview": false})
	}
	r := c.call(http.MethodPatch, "/applications/"+uuid+"/envs/bulk", map[string]any{"data": data})
	require.Equal(c.t, http.StatusCreated, r.status, "%s", r.body)
}

// start starts an app and returns the answer.
func (c *client) start(uuid string) map[string]any {
	c.t.Helper()
	r := c.call(http.MethodPost, "/applications/"+uuid+"/start", nil)
	require.Equal(c.t, http.StatusOK, r.status, "%s", r.body)
	return r.object(c.t)
}

// status is the application's status as GET shows it.
func (c *client) status(uuid string) string {
	c.t.Helper()
	r := c.call(http.MethodGet, "/applications/"+uuid, nil)
	require.Equal(c.t, http.StatusOK, r.status, "%s", r.body)
	s, _ := r.object(c.t)["status"].(string)
	return s
}

// deployment fetches one deployment.
func (c *client) deployment(uuid string) map[string]any {
	c.t.Helper()
	r := c.call(http.MethodGet, "/deployments/"+uuid, nil)
	require.Equal(c.t, http.StatusOK, r.status, "%s", r.body)
	return r.object(c.t)
}

// snapshot is the simulator's view of one app.
func snapshot(t testing.TB, s *Sim, uuid string) AppSnapshot {
	t.Helper()
	a, ok := s.App(uuid)
	require.True(t, ok, "no app %s", uuid)
	return a
}

// recorder is a Workload that records every run's env and runs until its
// context ends.
type recorder struct {
	mu   sync.Mutex
	runs []map[string]string
	live int
}

func (r *recorder) workload(ctx context.Context, env map[string]string) int {
	r.mu.Lock()
	r.runs = append(r.runs, env)
	r.live++
	r.mu.Unlock()
	<-ctx.Done()
	r.mu.Lock()
	r.live--
	r.mu.Unlock()
	return 0
}

func (r *recorder) snapshot() (runs []map[string]string, live int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]string(nil), r.runs...), r.live
}

const (
	waitFor = 5 * time.Second
	tick    = 2 * time.Millisecond
)
