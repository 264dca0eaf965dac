package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/meeboter/meeboter/pkg/recording"
	"github.com/meeboter/meeboter/pkg/store"
)

var specCache struct {
	once sync.Once
	doc  *openapi3.T
	err  error
}

// loadSpec loads and validates the embedded OpenAPI document, once per test
// binary. The returned document is shared: do not mutate it.
func loadSpec(t testing.TB) *openapi3.T {
	t.Helper()
	specCache.once.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(OpenAPISpec)
		if err != nil {
			specCache.err = fmt.Errorf("load openapi.yaml: %w", err)
			return
		}
		if err := doc.Validate(loader.Context); err != nil {
			specCache.err = fmt.Errorf("validate openapi.yaml: %w", err)
			return
		}
		specCache.doc = doc
	})
	require.NoError(t, specCache.err)
	return specCache.doc
}

// newSpecRouter returns a router that finds the spec's operation of a request.
func newSpecRouter(t testing.TB) routers.Router {
	t.Helper()
	router, err := legacy.NewRouter(loadSpec(t))
	require.NoError(t, err)
	return router
}

// specReporter is the part of testing.TB the validating transport reports
// mismatches through; a fake lets the transport's own tests observe them.
type specReporter interface {
	Helper()
	Errorf(format string, args ...any)
}

// validatingTransport checks every user-API response that passes through it
// against the OpenAPI document: status (it must be documented), headers and
// body. Requests are not validated, so tests may send deliberately bad ones.
type validatingTransport struct {
	t      specReporter
	base   http.RoundTripper
	router routers.Router
	// validated counts the responses checked against the document.
	validated atomic.Int64
}

// newValidatingTransport wraps base (http.DefaultTransport when nil).
func newValidatingTransport(t testing.TB, r specReporter, base http.RoundTripper) *validatingTransport {
	t.Helper()
	if base == nil {
		base = http.DefaultTransport
	}
	return &validatingTransport{t: r, base: base, router: newSpecRouter(t)}
}

// newValidatingClient returns a client whose responses from /api/v1/* are
// checked against the OpenAPI document; mismatches fail t.
func newValidatingClient(t testing.TB) (*http.Client, *validatingTransport) {
	t.Helper()
	vt := newValidatingTransport(t, t, nil)
	return &http.Client{Transport: vt}, vt
}

// Validated is how many responses were checked against the document.
func (vt *validatingTransport) Validated() int64 { return vt.validated.Load() }

// RoundTrip sends req through the wrapped transport and validates the
// response; its body is buffered and left readable.
func (vt *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := vt.base.RoundTrip(req)
	if err != nil || !specValidatedPath(req.URL.Path) {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("validating transport: read %s %s response: %w", req.Method, req.URL.Path, err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	vt.check(req, resp, body)
	return resp, nil
}

func specValidatedPath(p string) bool {
	return strings.HasPrefix(p, "/api/v1/") && p != "/api/v1/openapi.yaml"
}

func (vt *validatingTransport) check(req *http.Request, resp *http.Response, body []byte) {
	vt.t.Helper()
	route, pathParams, err := vt.router.FindRoute(req)
	if err != nil {
		var re *routers.RouteError
		if errors.As(err, &re) && (resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed) {
			return // an undocumented path or method, answered as such
		}
		vt.t.Errorf("openapi: %s %s -> %d: no operation in openapi.yaml: %v", req.Method, req.URL.Path, resp.StatusCode, err)
		return
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    req,
			PathParams: pathParams,
			Route:      route,
			Options: &openapi3filter.Options{
				AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
				ExcludeRequestBody: true,
			},
		},
		Status:  resp.StatusCode,
		Header:  resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	input.SetBodyBytes(body)
	vt.validated.Add(1)
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		vt.t.Errorf("openapi: %s %s -> %d does not match openapi.yaml: %v\nbody: %s",
			req.Method, req.URL.Path, resp.StatusCode, err, truncateForReport(body, 2048))
	}
}

func truncateForReport(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

func TestOpenAPISpecIsValid(t *testing.T) {
	t.Parallel()
	doc := loadSpec(t)
	require.Equal(t, "3.0.3", doc.OpenAPI)
	for _, p := range []string{"/api/v1/bots", "/api/v1/bots/{id}", "/api/v1/bots/{id}/events",
		"/api/v1/bots/{id}/leave", "/api/v1/openapi.yaml", "/healthz", "/readyz"} {
		require.NotNil(t, doc.Paths.Value(p), p)
	}
	for _, p := range doc.Paths.InMatchingOrder() {
		require.False(t, strings.HasPrefix(p, "/bot/"), "the bot API is documented in pkg/botproto: %s", p)
	}
	newSpecRouter(t)
}

// specErrorRecorder records what the transport reports.
type specErrorRecorder struct {
	mu   sync.Mutex
	errs []string
}

func (f *specErrorRecorder) Helper() {}

func (f *specErrorRecorder) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

func (f *specErrorRecorder) reported() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.errs...)
}

func TestValidatingTransportCatchesMismatch(t *testing.T) {
	t.Parallel()
	const id = "0190f5b8-7a3e-7c4d-8e2f-1a2b3c4d5e6f"
	cases := []struct {
		name        string
		method      string
		path        string
		status      int
		contentType string
		body        string
		wantError   string
	}{
		{name: "wrong bot body", method: http.MethodGet, path: "/api/v1/bots/" + id,
			status: 200, contentType: "application/json", body: `{"nope":1}`, wantError: "does not match"},
		{name: "undocumented status", method: http.MethodGet, path: "/api/v1/bots/" + id,
			status: http.StatusTeapot, contentType: "application/problem+json",
			body: `{"type":"about:blank","title":"I'm a teapot","status":418}`, wantError: "status is not supported"},
		{name: "problem with wrong content type", method: http.MethodGet, path: "/api/v1/bots/" + id,
			status: 404, contentType: "application/json",
			body: `{"type":"about:blank","title":"Not Found","status":404}`, wantError: "does not match"},
		{name: "unknown path answered 200", method: http.MethodGet, path: "/api/v1/nothing",
			status: 200, contentType: "application/json", body: `{}`, wantError: "no operation"},
		{name: "correct problem", method: http.MethodGet, path: "/api/v1/bots/" + id,
			status: 404, contentType: "application/problem+json",
			body: `{"type":"about:blank","title":"Not Found","status":404,"detail":"no such bot"}`},
		{name: "correct field errors", method: http.MethodGet, path: "/api/v1/bots?limit=0",
			status: 400, contentType: "application/problem+json",
			body: `{"type":"about:blank","title":"Bad Request","status":400,"detail":"invalid query","errors":[{"field":"limit","message":"must be an integer from 1 to 100"}]}`},
		{name: "unknown path answered 404", method: http.MethodPut, path: "/api/v1/nothing",
			status: 404, contentType: "application/problem+json", body: `{"type":"about:blank","title":"Not Found","status":404}`},
		{name: "undocumented method answered 404", method: http.MethodPut, path: "/api/v1/bots",
			status: 404, contentType: "application/problem+json", body: `{"type":"about:blank","title":"Not Found","status":404}`},
		{name: "outside the user API", method: http.MethodGet, path: "/bot/v1/config",
			status: 200, contentType: "text/plain", body: `anything`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			t.Cleanup(srv.Close)
			rec := &specErrorRecorder{}
			vt := newValidatingTransport(t, rec, nil)
			req, err := http.NewRequestWithContext(t.Context(), tc.method, srv.URL+tc.path, http.NoBody)
			require.NoError(t, err)
			resp, err := (&http.Client{Transport: vt}).Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, tc.body, string(got), "the body must still be readable")
			require.Equal(t, tc.status, resp.StatusCode)

			errs := rec.reported()
			if tc.wantError == "" {
				require.Empty(t, errs)
				return
			}
			require.Len(t, errs, 1)
			require.Contains(t, errs[0], tc.wantError)
			require.Contains(t, errs[0], tc.method+" "+tc.path[:strings.IndexByte(tc.path+"?", '?')])
		})
	}
}

func TestValidatingTransportCountsResponses(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/openapi.yaml" {
			serveOpenAPI(w, r)
			return
		}
		writeProblem(w, http.StatusNotFound, "no such bot")
	}))
	t.Cleanup(srv.Close)
	client, vt := newValidatingClient(t)
	for _, p := range []string{"/api/v1/bots/0190f5b8-7a3e-7c4d-8e2f-1a2b3c4d5e6f", "/api/v1/openapi.yaml"} {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+p, http.NoBody)
		require.NoError(t, err)
		resp, err := client.Do(req)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
	}
	require.EqualValues(t, 1, vt.Validated(), "openapi.yaml itself is not validated")
}

// specStubStore answers the user API's store calls from memory, so the real
// handlers' responses can be checked against the document without a database.
type specStubStore struct {
	Store // the bot API's methods are not called
	bot   store.Bot
}

func (s *specStubStore) AuthenticateAPIKey(_ context.Context, secret string) (string, error) {
	if secret != "good" {
		return "", store.ErrUnauthenticated
	}
	return "owner", nil
}

func (s *specStubStore) IdempotentResponse(context.Context, string, store.Idempotency) ([]byte, error) {
	return nil, nil
}

func (s *specStubStore) CreateBot(_ context.Context, nb store.NewBot, idem *store.Idempotency, _ time.Time,
	render func(store.Bot) ([]byte, error)) (store.CreateResult, error) {
	if idem != nil && idem.Key == "busy" {
		return store.CreateResult{}, store.ErrIdempotencyInFlight
	}
	b := s.bot
	b.MeetingURL, b.MeetingPlatform, b.BotName = nb.MeetingURL, nb.MeetingPlatform, nb.BotName
	b.AutomaticLeave, b.Recording, b.Metadata, b.CallbackURL, b.JoinAt = nb.AutomaticLeave, nb.Recording, nb.Metadata, nb.CallbackURL, nb.JoinAt
	body, err := render(b)
	if err != nil {
		return store.CreateResult{}, err
	}
	return store.CreateResult{Bot: b, Response: body, Replayed: idem != nil && idem.Key == "replay"}, nil
}

func (s *specStubStore) GetBot(_ context.Context, _ string, id uuid.UUID) (store.Bot, error) {
	if id != s.bot.ID {
		return store.Bot{}, store.ErrNotFound
	}
	return s.bot, nil
}

func (s *specStubStore) ListBots(_ context.Context, _ string, f store.BotFilter) ([]store.Bot, error) {
	out := make([]store.Bot, 0, f.Limit)
	for range f.Limit {
		out = append(out, s.bot)
	}
	return out, nil
}

func (s *specStubStore) ListEvents(_ context.Context, _ string, id uuid.UUID, after int64, _ int) ([]store.Event, error) {
	if id != s.bot.ID {
		return nil, store.ErrNotFound
	}
	return []store.Event{
		{ID: after + 1, BotID: id, Type: "QUEUED", Data: json.RawMessage(`{}`), OccurredAt: s.bot.CreatedAt, Source: store.SourceController},
		{ID: after + 2, BotID: id, Type: "PARTICIPANT_JOIN", Data: json.RawMessage(`{"name":"Ada"}`), OccurredAt: s.bot.CreatedAt,
			Source: store.SourceBot, Attempt: new(1)},
		{ID: after + 3, BotID: id, Type: "FATAL", Data: json.RawMessage(`{"reason":"deploy_timeout"}`), OccurredAt: s.bot.CreatedAt,
			Source: store.SourceController},
	}, nil
}

func (s *specStubStore) RequestStop(_ context.Context, _ string, id uuid.UUID, mode store.StopMode, _ time.Time) (store.Bot, error) {
	if id != s.bot.ID {
		return store.Bot{}, store.ErrNotFound
	}
	b := s.bot
	b.Desired, b.StopMode = store.DesiredStopped, &mode
	return b, nil
}

func (s *specStubStore) PatchBot(_ context.Context, _ string, id uuid.UUID, p store.BotPatch, _ time.Time) (store.Bot, error) {
	switch {
	case id != s.bot.ID:
		return store.Bot{}, store.ErrNotFound
	case s.bot.Status != store.StatusQueued && s.bot.Status != store.StatusScheduled:
		return store.Bot{}, store.ErrAdmitted
	}
	b := s.bot
	b.BotName = *p.BotName
	return b, nil
}

func (s *specStubStore) QueuePosition(context.Context, store.Bot) (int, error) { return 3, nil }

func (s *specStubStore) TenantLimits(_ context.Context, owner string) (store.TenantLimits, error) {
	return store.TenantLimits{Owner: owner}, nil
}

// specStubRecordings presigns without S3 (the real bucket is tested in
// pkg/recording and in recording_test.go).
type specStubRecordings struct{ now time.Time }

func (r specStubRecordings) PresignUpload(_ context.Context, key string) (recording.Presigned, error) {
	return recording.Presigned{URL: "http://s3.example/recordings/" + key + "?X-Amz-Signature=put", Expires: r.now.Add(time.Hour)}, nil
}

func (r specStubRecordings) PresignDownload(_ context.Context, key string) (recording.Presigned, error) {
	return recording.Presigned{URL: "http://s3.example/recordings/" + key + "?X-Amz-Signature=get", Expires: r.now.Add(time.Hour)}, nil
}

func (r specStubRecordings) Seal(context.Context, string) (recording.Object, error) {
	return recording.Object{}, recording.ErrNotFound
}

func (r specStubRecordings) Remove(context.Context, string) error { return nil }

type specFixedClock time.Time

func (c specFixedClock) Now() time.Time { return time.Time(c) }

// TestOpenAPIMatchesHandlers drives the real handlers through the validating
// client: every documented response shape they produce must match.
func TestOpenAPIMatchesHandlers(t *testing.T) {
	t.Parallel()
	now := time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.UTC)
	str := func(s string) *string { return &s }
	at := func(d time.Duration) *time.Time { v := now.Add(d); return &v }
	leave := store.StopLeave
	full := store.Bot{ID: uuid.MustParse("0190f5b8-7a3e-7c4d-8e2f-1a2b3c4d5e6f"), Owner: "owner",
		MeetingURL: "https://meet.google.com/abc-defg-hij", MeetingPlatform: "google-meet", BotName: "Meeboter",
		JoinAt: at(-time.Minute), AutomaticLeave: store.AutomaticLeave{WaitingRoomTimeoutSeconds: 600,
			NooneJoinedTimeoutSeconds: 60, EveryoneLeftTimeoutSeconds: 60, InactivityTimeoutSeconds: 300},
		Recording: store.Recording{Enabled: true, Mode: "audio"}, Metadata: json.RawMessage(`{"a":[1,{"b":null}]}`),
		CallbackURL: str("https://example.com/hook"), Desired: store.DesiredStopped, StopMode: &leave,
		Status: store.StatusDone, StatusReason: str(store.ReasonCompleted), Generation: 2, ObservedGeneration: 2,
		Platform: str("local"), CurrentAttempt: 1, LastHeartbeatAt: at(time.Second), CreatedAt: now,
		QueuedAt: at(0), DeployStartedAt: at(time.Second), JoinedAt: at(2 * time.Second), EndedAt: at(time.Hour),
		RecordingKey:  str("bots/0190f5b8-7a3e-7c4d-8e2f-1a2b3c4d5e6f/recordings/1-google-meet.m4a"),
		RecordingSize: new(int64(1234)), RecordingUploaded: at(time.Hour),
		ReservedPlatform: str("aws"), ReservedFrom: at(-3 * time.Minute), ReservedUntil: at(3 * time.Hour)}
	empty := store.Bot{ID: full.ID, MeetingURL: full.MeetingURL, MeetingPlatform: "google-meet", BotName: "x",
		AutomaticLeave: full.AutomaticLeave, Recording: store.Recording{Mode: "none"}, Metadata: json.RawMessage(`{}`),
		Desired: store.DesiredRunning, Status: store.StatusQueued, CreatedAt: now}

	for name, bot := range map[string]store.Bot{"all fields set": full, "nullable fields null": empty} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := &Server{Store: &specStubStore{bot: bot}, Clock: specFixedClock(now), Logger: zap.NewNop(),
				Config: Config{MaxBodyBytes: 1024}, Recordings: specStubRecordings{now: now},
				Ready: func(context.Context) error { return errors.New("database down") }}
			hs := httptest.NewServer(srv.Handler())
			t.Cleanup(hs.Close)
			client, vt := newValidatingClient(t)
			id := bot.ID.String()
			okBody := `{"meeting_url":"https://meet.google.com/abc-defg-hij","recording":{"enabled":true},"metadata":{"k":"v"}}`
			cases := []struct {
				method, path, key, body string
				headers                 map[string]string
				status                  int
			}{
				{"POST", "/api/v1/bots", "good", okBody, nil, 201},
				{"POST", "/api/v1/bots", "good", okBody, map[string]string{"Idempotency-Key": "replay"}, 201},
				{"POST", "/api/v1/bots", "good", okBody, map[string]string{"Idempotency-Key": "busy"}, 409},
				{"POST", "/api/v1/bots", "good", okBody, map[string]string{"Idempotency-Key": strings.Repeat("k", 256)}, 400},
				{"POST", "/api/v1/bots", "good", `{"meeting_url":1}`, nil, 400},
				{"POST", "/api/v1/bots", "good", `{"meeting_url":"x","nope":1}`, nil, 400},
				{"POST", "/api/v1/bots", "good", `{"meeting_url":"https://example.com","bot_name":" "}`, nil, 422},
				{"POST", "/api/v1/bots", "good", `{"meeting_url":"` + strings.Repeat("x", 2000) + `"}`, nil, 413},
				{"POST", "/api/v1/bots", "", okBody, nil, 401},
				{"POST", "/api/v1/bots", "bad", okBody, nil, 401},
				{"GET", "/api/v1/bots", "good", "", nil, 200},
				{"GET", "/api/v1/bots?status=IN_CALL,DONE&status=QUEUED&meeting_platform=zoom&limit=2&cursor=" + id, "good", "", nil, 200},
				{"GET", "/api/v1/bots?status=NOPE&limit=0&cursor=x", "good", "", nil, 400},
				{"GET", "/api/v1/bots/" + id, "good", "", nil, 200},
				{"GET", "/api/v1/bots/" + uuid.NewString(), "good", "", nil, 404},
				{"GET", "/api/v1/bots/not-a-uuid", "good", "", nil, 404},
				{"GET", "/api/v1/bots/" + id + "/events?after=5&limit=10", "good", "", nil, 200},
				{"GET", "/api/v1/bots/" + id + "/events?after=-1", "good", "", nil, 400},
				{"GET", "/api/v1/bots/" + uuid.NewString() + "/events", "good", "", nil, 404},
				{"GET", "/api/v1/bots/" + id + "/recording", "good", "", nil, map[bool]int{true: 200, false: 404}[bot.RecordingKey != nil]},
				{"GET", "/api/v1/bots/" + uuid.NewString() + "/recording", "good", "", nil, 404},
				{"POST", "/api/v1/bots/" + id + "/leave", "good", "", nil, 202},
				{"DELETE", "/api/v1/bots/" + id, "good", "", nil, 202},
				{"PATCH", "/api/v1/bots/" + id, "good", `{"bot_name":"y"}`, nil, map[bool]int{true: 200, false: 409}[bot.Status == store.StatusQueued]},
				{"PATCH", "/api/v1/bots/" + id, "good", `{"bot_name":"y","status":"DONE"}`, nil, 400},
				{"PATCH", "/api/v1/bots/" + id, "good", `{"join_at":null}`, nil, 422},
				{"PATCH", "/api/v1/bots/" + uuid.NewString(), "good", `{"bot_name":"y"}`, nil, 404},
				{"DELETE", "/api/v1/bots/" + uuid.NewString(), "good", "", nil, 404},
				{"PUT", "/api/v1/bots", "good", "", nil, 404},
				{"GET", "/api/v1/nothing", "good", "", nil, 404},
			}
			for _, tc := range cases {
				req, err := http.NewRequestWithContext(t.Context(), tc.method, hs.URL+tc.path, strings.NewReader(tc.body))
				require.NoError(t, err)
				if tc.key != "" {
					req.Header.Set("X-API-Key", tc.key)
				}
				for k, v := range tc.headers {
					req.Header.Set(k, v)
				}
				resp, err := client.Do(req)
				require.NoError(t, err)
				body, err := io.ReadAll(resp.Body)
				require.NoError(t, err)
				require.NoError(t, resp.Body.Close())
				require.Equal(t, tc.status, resp.StatusCode, "%s %s: %s", tc.method, tc.path, body)
			}
			require.EqualValues(t, len(cases)-2, vt.Validated(), "every documented operation's response is validated")
		})
	}
}
