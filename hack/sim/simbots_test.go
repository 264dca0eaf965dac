package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeController hands one assignment to the first slot that asks and
// counts the calls made with that attempt's token.
type fakeController struct {
	mu       sync.Mutex
	assigned bool
	calls    int
}

func (f *fakeController) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.URL.Path == "/bot/v1/assignment" && !f.assigned:
		f.assigned = true
		_, _ = io.WriteString(w, `{"assigned":true,"bot_id":"bot-1","token":"attempt-token",`+
			`"config":{"bot_id":"bot-1","attempt":2,"meeting_platform":"zoom","heartbeat_interval_seconds":1,`+
			`"metadata":{"simulate":{"call_seconds":0}}}}`)
	case r.URL.Path == "/bot/v1/assignment":
		_, _ = io.WriteString(w, `{"assigned":false,"retry_after_seconds":1}`)
	default:
		if r.Header.Get("Authorization") == "Bearer attempt-token" {
			f.calls++
		}
		_, _ = io.WriteString(w, `{}`)
	}
}

func (f *fakeController) tokenCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// TestSimBotsPoolSlot runs the Coolify simulator with --sim-bots: a started
// slot plays its assignment in-process, GET /_sim/bots names the bot it
// plays, and a crash cuts the bot off at once and ends the play as killed.
func TestSimBotsPoolSlot(t *testing.T) {
	t.Parallel()
	ctrl := &fakeController{}
	ctrlSrv := httptest.NewServer(ctrl)
	t.Cleanup(ctrlSrv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"coolify", "--addr", "127.0.0.1:0", "--token", "1|t", "--sim-bots",
			"--cold-start", "0", "--warm-start", "0", "--rate-limit", "0"}, outW, io.Discard)
		_ = outW.Close()
	}()
	env := map[string]string{}
	sc := bufio.NewScanner(outR)
	for len(env) < 4 && sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		env[k] = v
	}
	go func() { _, _ = io.Copy(io.Discard, outR) }()
	api := env["COOLIFY_API_URL"]
	base := strings.TrimSuffix(api, "/api/v1")

	var created struct {
		UUID string `json:"uuid"`
	}
	call(t, http.MethodPost, api+"/applications/dockerimage", map[string]any{"project_uuid": env["COOLIFY_PROJECT_UUID"],
		"server_uuid": env["COOLIFY_SERVER_UUID"], "environment_name": "production", "docker_registry_image_name": "bot",
		"autogenerate_domain": false}, &created)
	call(t, http.MethodPatch, api+"/applications/"+created.UUID+"/envs/bulk", map[string]any{"data": []map[string]any{
		{"key": "POOL_SLOT_UUID", "value": created.UUID}, {"key": "POOL_SLOT_TOKEN", "value": "slot-token"},
		{"key": "API_CALLBACK_URL", "value": ctrlSrv.URL}}}, nil)
	call(t, http.MethodPost, api+"/applications/"+created.UUID+"/start", nil, nil)

	var bots snapshot
	require.Eventually(t, func() bool {
		call(t, http.MethodGet, base+"/_sim/bots", nil, &bots)
		return len(bots.Live) == 1 && ctrl.tokenCalls() >= 2
	}, 10*time.Second, 20*time.Millisecond, "the slot never played its assignment")
	require.Equal(t, created.UUID, bots.Live[0].Container)
	require.Equal(t, "bot-1", bots.Live[0].BotID)
	require.Equal(t, 2, bots.Live[0].Attempt)

	call(t, http.MethodPost, base+"/_sim/apps/"+created.UUID+"/crash", map[string]any{"exit_code": 137}, nil)
	call(t, http.MethodGet, base+"/_sim/bots?ended=1", nil, &bots)
	require.Empty(t, bots.Live)
	require.Len(t, bots.Ended, 1)
	require.True(t, bots.Ended[0].Killed)
	after := ctrl.tokenCalls()
	time.Sleep(1500 * time.Millisecond) // more than a heartbeat interval: a live bot would have called
	require.Equal(t, after, ctrl.tokenCalls(), "a killed bot said something")

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/_sim/bots", http.NoBody)
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)

	cancel()
	select {
	case code := <-done:
		require.Equal(t, 0, code)
	case <-time.After(15 * time.Second):
		t.Fatal("sim did not stop")
	}
}

func TestSimBotsExcludesBotCommand(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	require.Equal(t, 2, run(context.Background(), []string{"ecs", "--sim-bots", "--bot-command", "true"}, io.Discard, &stderr))
	require.Contains(t, stderr.String(), "exclude each other")
}

func TestAttemptOf(t *testing.T) {
	t.Parallel()
	require.Equal(t, 3, attemptOf("meeboter-0196-abcd-3"))
	require.Equal(t, 0, attemptOf("nothing"))
	require.Equal(t, 0, attemptOf(""))
}

// call sends a JSON request with the test token and decodes a 2xx answer.
func call(t *testing.T, method, url string, body, out any) {
	t.Helper()
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		require.NoError(t, err)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer 1|t")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Less(t, res.StatusCode, 300, "%s %s: %s", method, url, raw)
	if out != nil {
		require.NoError(t, json.Unmarshal(raw, out))
	}
}
