package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/hack/devenv/s3server"
	"github.com/meeboter/meeboter/pkg/webhook"
)

const e2eWebhookSecret = "e2e-webhook-secret-0123456789"

// hookReceiver records verified deliveries with their arrival time.
type hookReceiver struct {
	t      *testing.T
	secret []byte // the tenant's: callbacks are signed with it, not WEBHOOK_SECRET
	mu     sync.Mutex
	got    []webhookDelivery
}

type webhookDelivery struct {
	payload webhook.Payload
	arrived time.Time
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	require.NoError(h.t, err)
	arrived := time.Now()
	if err := webhook.Verify(h.secret, r.Header, body, arrived, time.Minute); err != nil {
		h.t.Errorf("unverifiable delivery: %v", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var p webhook.Payload
	require.NoError(h.t, json.Unmarshal(body, &p))
	h.mu.Lock()
	h.got = append(h.got, webhookDelivery{payload: p, arrived: arrived})
	h.mu.Unlock()
}

func (h *hookReceiver) forBot(id string) []webhookDelivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []webhookDelivery
	for _, d := range h.got {
		if d.payload.BotID == id {
			out = append(out, d)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, _ := strconv.ParseInt(out[i].payload.EventID, 10, 64)
		b, _ := strconv.ParseInt(out[j].payload.EventID, 10, 64)
		return a < b
	})
	return out
}

// TestRecordingAndWebhooksEndToEnd: a real `meeboter serve` with a real S3
// server; a `meeboter-bot --simulate` process records, uploads through its
// presigned URL and finishes; every status change reaches a signed webhook.
func TestRecordingAndWebhooksEndToEnd(t *testing.T) {
	t.Parallel()
	s3 := s3server.StartT(t)
	metricsAddr := freeAddr(t)
	s := newSystem(t, "METRICS_ADDR="+metricsAddr, "S3_ENDPOINT="+s3.Endpoint(), "MINIO_ACCESS_KEY="+s3.AccessKey(), "MINIO_SECRET_KEY="+s3.SecretKey(),
		"S3_BUCKET_NAME=e2e-recordings", "S3_REGION="+s3.Region(), "WEBHOOK_SECRET="+e2eWebhookSecret, "CALLBACK_ALLOW=127.0.0.0/8",
		"LOG_LEVEL=debug") // the most the controller ever logs
	hooks := &hookReceiver{t: t, secret: []byte(s.webhookSecret)}
	receiver := httptest.NewServer(hooks)
	t.Cleanup(receiver.Close)
	addr := freeAddr(t)
	logs := &lockedBuffer{}
	c := s.start(addr, logs)

	const size = 5 << 20
	body := simulate(map[string]any{"call_seconds": 2, "recording_bytes": size})
	body["recording"] = map[string]any{"enabled": true}
	body["callback_url"] = receiver.URL + "/meeboter"
	b := s.createBot(addr, body)

	s.waitStatus(addr, b.ID, 30*time.Second, "IN_CALL")
	botToken := requireNoSecretsInBotEnv(t, s, b.ID, s3.AccessKey(), s3.SecretKey(), e2eWebhookSecret, s.webhookSecret)
	done := s.waitStatus(addr, b.ID, 60*time.Second, "DONE", "FATAL")
	require.Equal(t, "DONE", done.Status)
	require.Equal(t, "completed", *done.StatusReason)
	requireSubsequence(t, s.events(addr, b.ID), "IN_CALL", "LEAVING", "RECORDING_UPLOADED", "DONE")

	var rec struct {
		URL       string `json:"url"`
		SizeBytes int64  `json:"size_bytes"`
		Key       string `json:"key"`
	}
	code, err := s.api(addr, http.MethodGet, "/api/v1/bots/"+b.ID+"/recording", nil, &rec)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)
	require.Regexp(t, `^bots/`+b.ID+`/recordings/[0-9a-f]{16}/1-google-meet\.mp4$`, rec.Key, "the sealed copy, not the upload")
	require.EqualValues(t, size, rec.SizeBytes)
	resp, err := http.Get(rec.URL) //nolint:noctx // a presigned URL, as a user would fetch it
	require.NoError(t, err)
	n, err := io.Copy(io.Discard, resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.EqualValues(t, size, n)

	// Every status change arrived once, signed, in the order of its events.
	want := []string{"QUEUED", "DEPLOYING", "JOINING_CALL", "IN_CALL", "LEAVING", "DONE"}
	require.Eventually(t, func() bool { return len(hooks.forBot(b.ID)) == len(want) }, 20*time.Second, 20*time.Millisecond)
	var statuses []string
	var delays []time.Duration
	for _, d := range hooks.forBot(b.ID) {
		statuses = append(statuses, d.payload.Status)
		delays = append(delays, d.arrived.Sub(d.payload.OccurredAt))
	}
	require.Equal(t, want, statuses)
	slices.Sort(delays)
	t.Logf("webhook delivery delay (occurred_at to arrival) over %d events: median %s, max %s",
		len(delays), delays[len(delays)/2].Round(time.Millisecond), delays[len(delays)-1].Round(time.Millisecond))

	// METRICS_ADDR moves /metrics off the API's port.
	require.InDelta(t, 1, scrape(t, metricsAddr)[`meeboter_recordings_stored_total{}`], 0)
	code, err = s.api(addr, http.MethodGet, "/metrics", nil, nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusNotFound, code)
	c.stop(t)
	// Nothing secret in any log: the controller's (at debug level) and the
	// bot's own. The bot's token and the API key were used on every call.
	botLogs, err := filepath.Glob(filepath.Join(s.stateDir, "*.log"))
	require.NoError(t, err)
	require.NotEmpty(t, botLogs)
	all := []string{logs.String()}
	for _, path := range botLogs {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		all = append(all, string(b))
	}
	require.Contains(t, logs.String(), `"bot reported status"`, "the controller did log")
	for _, secret := range []string{s.apiKey, botToken, s3.AccessKey(), s3.SecretKey(), e2eWebhookSecret, s.webhookSecret, s.dbURL} {
		require.NotEmpty(t, secret)
		for i, text := range all {
			require.NotContains(t, text, secret, "a secret reached log %d", i)
		}
	}
}

// requireNoSecretsInBotEnv reads the bot process's environment from /proc;
// it returns the bot's own token.
func requireNoSecretsInBotEnv(t *testing.T, s *system, botID string, secrets ...string) string {
	t.Helper()
	listed, err := s.view.List(t.Context())
	require.NoError(t, err)
	token := ""
	for _, l := range listed {
		if botOf(l.Name) != botID {
			continue
		}
		environ, err := os.ReadFile("/proc/" + l.ExternalID + "/environ")
		if err != nil {
			continue // exited meanwhile
		}
		for _, kv := range strings.Split(string(environ), "\x00") {
			if v, ok := strings.CutPrefix(kv, "MILO_AUTH_TOKEN="); ok {
				token = v
			}
		}
		for _, secret := range secrets {
			require.NotContains(t, string(environ), secret)
		}
		require.NotContains(t, strings.ToUpper(string(environ)), "S3_", "no S3 setting reaches a bot")
	}
	require.NotEmpty(t, token, "the bot's process was found, with its own token")
	return token
}
