package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/meeboter/meeboter/hack/devenv/s3server"
	"github.com/meeboter/meeboter/pkg/botproto"
	"github.com/meeboter/meeboter/pkg/botsim"
	"github.com/meeboter/meeboter/pkg/config"
	"github.com/meeboter/meeboter/pkg/recording"
	"github.com/meeboter/meeboter/pkg/webhook"
)

// UploadResult is one simulated recording's trip through a presigned PUT.
type UploadResult struct {
	Bytes       int64   `json:"bytes"`
	Seconds     float64 `json:"seconds"`
	MBPerSecond float64 `json:"mb_per_second"`
	Verified    bool    `json:"verified"`
}

// measureUpload uploads size bytes the way meeboter-bot does (generated
// stream, presigned PUT) to a real versitygw on loopback, then verifies and
// seals the object as the controller does (Seal; not part of the timing).
func measureUpload(ctx context.Context, size int64) (UploadResult, error) {
	dir, err := os.MkdirTemp("", "meeboter-bench-s3-")
	if err != nil {
		return UploadResult{}, err
	}
	defer os.RemoveAll(dir)
	srv, err := s3server.Start(ctx, s3server.Config{Dir: dir})
	if err != nil {
		return UploadResult{}, err
	}
	defer srv.Stop() //nolint:errcheck // best effort at exit
	st, err := recording.New(config.S3{Endpoint: srv.Endpoint(), AccessKey: srv.AccessKey(), SecretKey: srv.SecretKey(),
		Bucket: "bench", Region: srv.Region(), UploadURLTTL: time.Hour, DownloadURLTTL: time.Hour})
	if err != nil {
		return UploadResult{}, err
	}
	if err := st.EnsureBucket(ctx); err != nil {
		return UploadResult{}, err
	}
	key := recording.UploadKey(uuid.New(), 1, "google-meet", "mp4")
	p, err := st.PresignUpload(ctx, key)
	if err != nil {
		return UploadResult{}, err
	}
	up := &botproto.RecordingUpload{Method: http.MethodPut, URL: p.URL, Key: key, ContentType: "video/mp4"}
	start := time.Now()
	if err := botsim.UploadRecording(ctx, nil, up, size, 1); err != nil {
		return UploadResult{}, err
	}
	took := time.Since(start)
	obj, err := st.Seal(ctx, key)
	if err != nil {
		return UploadResult{}, err
	}
	return UploadResult{Bytes: size, Seconds: took.Seconds(), MBPerSecond: float64(size) / 1e6 / took.Seconds(),
		Verified: obj.Size == size}, nil
}

// WebhookResult is the delay from a status change to its webhook's arrival
// at a healthy receiver, over every change of the run.
type WebhookResult struct {
	Deliveries int     `json:"deliveries"`
	P50ms      float64 `json:"p50_ms"`
	P99ms      float64 `json:"p99_ms"`
	Maxms      float64 `json:"max_ms"`
}

// webhookReceiver is a healthy loopback receiver that verifies and times
// every delivery.
type webhookReceiver struct {
	srv    *httptest.Server
	secret []byte
	mu     sync.Mutex
	delays []time.Duration
	bad    int
}

func newWebhookReceiver(secret []byte) *webhookReceiver {
	r := &webhookReceiver{secret: secret}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	return r
}

func (r *webhookReceiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	now := time.Now()
	var p webhook.Payload
	r.mu.Lock()
	defer r.mu.Unlock()
	if webhook.Verify(r.secret, req.Header, body, now, time.Minute) != nil || json.Unmarshal(body, &p) != nil {
		r.bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	r.delays = append(r.delays, now.Sub(p.OccurredAt))
}

func (r *webhookReceiver) result() WebhookResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := slices.Clone(r.delays)
	if len(d) == 0 {
		return WebhookResult{}
	}
	slices.Sort(d)
	ms := func(v time.Duration) float64 { return float64(v.Microseconds()) / 1000 }
	return WebhookResult{Deliveries: len(d), P50ms: ms(d[len(d)/2]), P99ms: ms(d[len(d)*99/100]), Maxms: ms(d[len(d)-1])}
}
