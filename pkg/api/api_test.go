package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/meeboter/meeboter/controllers"
	"github.com/meeboter/meeboter/hack/devenv/fakeclock"
	"github.com/meeboter/meeboter/hack/devenv/s3server"
	"github.com/meeboter/meeboter/hack/devenv/storetest"
	"github.com/meeboter/meeboter/pkg/botproto"
	"github.com/meeboter/meeboter/pkg/config"
	"github.com/meeboter/meeboter/pkg/leadtime"
	"github.com/meeboter/meeboter/pkg/recording"
	"github.com/meeboter/meeboter/pkg/store"
)

// t0 is when every test starts; the fake clock moves only when a test says.
var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

const (
	zoomURL  = "https://us02web.zoom.us/j/85012345678?pwd=abc"
	teamsURL = "https://teams.microsoft.com/l/meetup-join/19%3ameeting_NjQ5ZmJk%40thread.v2/0"
	meetURL  = "https://meet.google.com/abc-defg-hij"

	maxLifetime       = 3 * time.Hour
	heartbeatInterval = 10 * time.Second
)

// testBundle is one test's server on its own migrated database.
type testBundle struct {
	pool   *pgxpool.Pool
	st     *store.Store
	clock  *fakeclock.Clock
	url    string
	client *http.Client
	vt     *validatingTransport
	s3     *s3server.Server
	acme   string // API key of tenant "acme"
	globex string // API key of tenant "globex"
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	return setupWith(t, func(*Server) {})
}

// setupWith is setup with the server changed by configure before it serves.
func setupWith(t *testing.T, configure func(*Server)) *testBundle {
	t.Helper()
	pool := storetest.NewPool(t)
	rc, err := controllers.NewInsertClient(pool)
	require.NoError(t, err)
	st := store.New(pool, controllers.NewEnqueuer(rc))
	clock := fakeclock.New(t0)
	s3 := s3server.StartT(t)
	recordings, err := recording.New(config.S3{Endpoint: s3.Endpoint(), AccessKey: s3.AccessKey(), SecretKey: s3.SecretKey(),
		Bucket: "recordings", Region: s3.Region(), UploadURLTTL: time.Hour, DownloadURLTTL: time.Hour})
	require.NoError(t, err)
	require.NoError(t, recordings.EnsureBucket(t.Context()))
	srv := &Server{Store: st, Clock: clock, Logger: zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)), Recordings: recordings,
		Config: Config{MaxBotLifetime: maxLifetime, BotHeartbeatInterval: heartbeatInterval,
			Platforms: []PlatformLimit{{Name: "coolify", Limit: 2}, {Name: "local", Limit: 5}}}}
	configure(srv)
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	client, vt := newValidatingClient(t)
	b := &testBundle{pool: pool, st: st, clock: clock, url: hs.URL, client: client, vt: vt, s3: s3}
	b.acme = b.apiKey(t, "acme")
	b.globex = b.apiKey(t, "globex")
	return b
}

func (b *testBundle) apiKey(t *testing.T, owner string) string {
	t.Helper()
	secret, _, err := b.st.CreateAPIKey(t.Context(), owner, "test", b.clock.Now())
	require.NoError(t, err)
	return secret
}

// requireValidated ends a test: its user-API responses were really checked
// against openapi.yaml.
func (b *testBundle) requireValidated(t *testing.T) {
	t.Helper()
	require.Positive(t, b.vt.Validated(), "no response was validated against openapi.yaml")
}

// reply is a response, read in full.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request through the validating client. key is a user API key
// (sent as Authorization: Bearer) or ""; header holds name, value pairs.
func (b *testBundle) do(t *testing.T, method, path, key, body string, header ...string) reply {
	t.Helper()
	var rd io.Reader = http.NoBody
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, b.url+path, rd)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	require.Zero(t, len(header)%2, "header must be name, value pairs")
	for i := 0; i < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := b.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return reply{status: resp.StatusCode, header: resp.Header, body: data}
}

// botDo calls the bot API as bot id with token.
func (b *testBundle) botDo(t *testing.T, method, path, token string, id uuid.UUID, body string) reply {
	t.Helper()
	return b.do(t, method, path, "", body, "Authorization", "Bearer "+token, botproto.HeaderBotID, id.String())
}

func (r reply) requireStatus(t *testing.T, want int) {
	t.Helper()
	require.Equal(t, want, r.status, "body: %s", r.body)
}

// problem checks that r is a problem document of its status and returns it.
func (r reply) problem(t *testing.T) Problem {
	t.Helper()
	require.Equal(t, "application/problem+json", r.header.Get("Content-Type"), "body: %s", r.body)
	var p Problem
	require.NoError(t, json.Unmarshal(r.body, &p), "body: %s", r.body)
	require.Equal(t, r.status, p.Status)
	require.Equal(t, http.StatusText(r.status), p.Title)
	require.Equal(t, "about:blank", p.Type)
	require.NotEmpty(t, p.Detail)
	return p
}

func (p Problem) fields() []string {
	var out []string
	for _, fe := range p.Errors {
		out = append(out, fe.Field)
	}
	return out
}

// decodeJSON strictly decodes a JSON (not problem) response.
func decodeJSON[T any](t *testing.T, r reply) T {
	t.Helper()
	require.Equal(t, "application/json", r.header.Get("Content-Type"), "body: %s", r.body)
	var v T
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&v), "body: %s", r.body)
	return v
}

func (b *testBundle) create(t *testing.T, key, body string, header ...string) BotView {
	t.Helper()
	r := b.do(t, http.MethodPost, "/api/v1/bots", key, body, header...)
	r.requireStatus(t, http.StatusCreated)
	return decodeJSON[BotView](t, r)
}

func (b *testBundle) get(t *testing.T, key string, id uuid.UUID) BotView {
	t.Helper()
	r := b.do(t, http.MethodGet, "/api/v1/bots/"+id.String(), key, "")
	r.requireStatus(t, http.StatusOK)
	return decodeJSON[BotView](t, r)
}

func (b *testBundle) events(t *testing.T, key string, id uuid.UUID, query string) EventList {
	t.Helper()
	r := b.do(t, http.MethodGet, "/api/v1/bots/"+id.String()+"/events"+query, key, "")
	r.requireStatus(t, http.StatusOK)
	return decodeJSON[EventList](t, r)
}

func (b *testBundle) list(t *testing.T, key, query string) BotList {
	t.Helper()
	r := b.do(t, http.MethodGet, "/api/v1/bots"+query, key, "")
	r.requireStatus(t, http.StatusOK)
	l := decodeJSON[BotList](t, r)
	if !strings.Contains(query, "status=") && !strings.Contains(query, "meeting_platform=") {
		var n int
		require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT count(*) FROM bots WHERE owner =
			(SELECT owner FROM api_keys WHERE key_hash = $1)`, store.HashSecret(key)).Scan(&n))
		require.True(t, len(l.Bots) > 0 || n == 0,
			"GET /api/v1/bots%s without a filter lists no bot, but the owner has %d", query, n)
	}
	return l
}

func meetingBody(url string) string { return `{"meeting_url":"` + url + `"}` }

func ids(bots []BotView) []uuid.UUID {
	out := make([]uuid.UUID, len(bots))
	for i, v := range bots {
		out[i] = v.ID
	}
	return out
}

func eventTypes(l EventList) []string {
	out := make([]string, len(l.Events))
	for i, e := range l.Events {
		out[i] = e.Type
	}
	return out
}

// rowCounts are the rows a create may write.
type rowCounts struct{ bots, idempotencyKeys, jobs, events int }

func (b *testBundle) counts(t *testing.T) rowCounts {
	t.Helper()
	var c rowCounts
	require.NoError(t, b.pool.QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM bots), (SELECT count(*) FROM idempotency_keys),
		(SELECT count(*) FROM river_job), (SELECT count(*) FROM bot_events)`).
		Scan(&c.bots, &c.idempotencyKeys, &c.jobs, &c.events))
	return c
}

// reconcileJobs counts the bot's reconcile jobs.
func (b *testBundle) reconcileJobs(t *testing.T, id uuid.UUID) int {
	t.Helper()
	var n int
	require.NoError(t, b.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM river_job WHERE kind = 'reconcile_bot' AND args->>'bot_id' = $1`, id.String()).Scan(&n))
	return n
}

// deploy admits every queued bot, which must be exactly ids, and starts
// attempt 1 of each the way the reconciler does; it returns their tokens.
func (b *testBundle) deploy(t *testing.T, bots ...uuid.UUID) []string {
	t.Helper()
	ctx := t.Context()
	now := b.clock.Now()
	admitted, err := b.st.Admit(ctx, store.PlatformLimit{Platform: "local", Limit: 100}, now)
	require.NoError(t, err)
	require.ElementsMatch(t, bots, admitted)
	tokens := make([]string, len(bots))
	for i, id := range bots {
		tokens[i] = rand.Text()
		storetest.BeginCreate(t, b.st, id, 1, tokens[i], now)
		require.NoError(t, b.st.MarkRunning(ctx, id, 1, "1", now))
	}
	return tokens
}

func requireTime(t *testing.T, want time.Time, got *time.Time, msgAndArgs ...any) {
	t.Helper()
	require.NotNil(t, got, msgAndArgs...)
	require.True(t, want.Equal(*got), "want %s, got %s %v", want, *got, msgAndArgs)
}

func TestCreateBot(t *testing.T) {
	t.Parallel()
	defaultLeave := store.AutomaticLeave{WaitingRoomTimeoutSeconds: 600, NooneJoinedTimeoutSeconds: 60,
		EveryoneLeftTimeoutSeconds: 60, InactivityTimeoutSeconds: 300}
	rfc := func(d time.Duration) string { return t0.Add(d).Format(time.RFC3339Nano) }
	cases := []struct {
		name         string
		body         string
		wantURL      string
		wantPlatform string
		wantStatus   store.Status
		wantJoinAt   *time.Duration // from t0
		check        func(t *testing.T, v BotView)
	}{
		{name: "zoom link, normalized", body: meetingBody("https://Company.Zoom.us:443/j/9876543210?pwd=xyz#success"),
			wantURL: "https://company.zoom.us/j/9876543210?pwd=xyz", wantPlatform: "zoom", wantStatus: store.StatusQueued},
		{name: "teams link", body: meetingBody(teamsURL), wantURL: teamsURL, wantPlatform: "microsoft-teams",
			wantStatus: store.StatusQueued},
		{name: "meet link", body: meetingBody(meetURL), wantURL: meetURL, wantPlatform: "google-meet",
			wantStatus: store.StatusQueued},
		{name: "declared platform that matches", body: `{"meeting_url":"` + zoomURL + `","meeting_platform":"zoom"}`,
			wantURL: zoomURL, wantPlatform: "zoom", wantStatus: store.StatusQueued},
		{name: "join_at in the future is scheduled", body: `{"meeting_url":"` + meetURL + `","join_at":"` + rfc(time.Hour) + `"}`,
			wantURL: meetURL, wantPlatform: "google-meet", wantStatus: store.StatusScheduled, wantJoinAt: new(time.Hour)},
		{name: "join_at one second ahead is scheduled", body: `{"meeting_url":"` + meetURL + `","join_at":"` + rfc(time.Second) + `"}`,
			wantURL: meetURL, wantPlatform: "google-meet", wantStatus: store.StatusScheduled, wantJoinAt: new(time.Second)},
		{name: "join_at now is queued", body: `{"meeting_url":"` + meetURL + `","join_at":"` + rfc(0) + `"}`,
			wantURL: meetURL, wantPlatform: "google-meet", wantStatus: store.StatusQueued, wantJoinAt: new(time.Duration(0))},
		{name: "join_at just in the past is queued", body: `{"meeting_url":"` + meetURL + `","join_at":"` + rfc(-4*time.Minute) + `"}`,
			wantURL: meetURL, wantPlatform: "google-meet", wantStatus: store.StatusQueued, wantJoinAt: new(-4 * time.Minute)},
		{name: "join_at in another zone", body: `{"meeting_url":"` + meetURL + `","join_at":"` +
			t0.Add(2*time.Hour).In(time.FixedZone("X", -7*3600)).Format(time.RFC3339) + `"}`,
			wantURL: meetURL, wantPlatform: "google-meet", wantStatus: store.StatusScheduled, wantJoinAt: new(2 * time.Hour)},
		{name: "null optional fields take defaults", body: `{"meeting_url":"` + meetURL + `","meeting_platform":null,
			"bot_name":null,"join_at":null,"automatic_leave":null,"recording":null,"metadata":null,"callback_url":null}`,
			wantURL: meetURL, wantPlatform: "google-meet", wantStatus: store.StatusQueued},
		{name: "every option", body: `{"meeting_url":"  ` + meetURL + ` ","bot_name":"  Notetaker ",
			"automatic_leave":{"waiting_room_timeout_seconds":60,"inactivity_timeout_seconds":7200},
			"recording":{"enabled":true},"metadata":{ "customer" : "acme", "tags":["a","b"], "n": {"x": null} },
			"callback_url":"https://hooks.example.com/meeboter?x=1"}`,
			wantURL: meetURL, wantPlatform: "google-meet", wantStatus: store.StatusQueued,
			check: func(t *testing.T, v BotView) {
				require.Equal(t, "Notetaker", v.BotName)
				require.Equal(t, store.AutomaticLeave{WaitingRoomTimeoutSeconds: 60, NooneJoinedTimeoutSeconds: 60,
					EveryoneLeftTimeoutSeconds: 60, InactivityTimeoutSeconds: 7200}, v.AutomaticLeave)
				require.Equal(t, store.Recording{Enabled: true, Mode: "video"}, v.Recording)
				require.JSONEq(t, `{"customer":"acme","tags":["a","b"],"n":{"x":null}}`, string(v.Metadata))
				require.NotNil(t, v.CallbackURL)
				require.Equal(t, "https://hooks.example.com/meeboter?x=1", *v.CallbackURL)
			}},
		{name: "audio recording", body: `{"meeting_url":"` + meetURL + `","recording":{"enabled":true,"mode":"audio"}}`,
			wantURL: meetURL, wantPlatform: "google-meet", wantStatus: store.StatusQueued,
			check: func(t *testing.T, v BotView) {
				require.Equal(t, store.Recording{Enabled: true, Mode: "audio"}, v.Recording)
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			r := b.do(t, http.MethodPost, "/api/v1/bots", b.acme, tc.body)
			r.requireStatus(t, http.StatusCreated)
			require.Empty(t, r.header.Get("Idempotent-Replayed"))
			v := decodeJSON[BotView](t, r)

			require.NotEqual(t, uuid.Nil, v.ID)
			require.EqualValues(t, 7, v.ID.Version(), "ids are UUIDv7")
			require.Equal(t, tc.wantURL, v.MeetingURL)
			require.Equal(t, tc.wantPlatform, v.MeetingPlatform)
			require.Equal(t, tc.wantStatus, v.Status)
			require.Equal(t, store.DesiredRunning, v.Desired)
			require.Nil(t, v.StopMode)
			require.Nil(t, v.StatusReason)
			require.EqualValues(t, 1, v.Generation)
			require.Zero(t, v.ObservedGeneration)
			require.Zero(t, v.Attempt)
			require.Nil(t, v.Platform)
			require.Nil(t, v.LastHeartbeatAt)
			require.Nil(t, v.DeployStartedAt)
			require.Nil(t, v.JoinedAt)
			require.Nil(t, v.EndedAt)
			require.True(t, t0.Equal(v.CreatedAt), "created_at %s is the server clock's", v.CreatedAt)
			if tc.wantStatus == store.StatusScheduled {
				require.Nil(t, v.QueuedAt)
			} else {
				requireTime(t, t0, v.QueuedAt, "queued_at")
			}
			if tc.wantJoinAt == nil {
				require.Nil(t, v.JoinAt)
			} else {
				requireTime(t, t0.Add(*tc.wantJoinAt), v.JoinAt, "join_at")
			}
			if tc.check != nil {
				tc.check(t, v)
			} else {
				require.Equal(t, DefaultBotName, v.BotName)
				require.Equal(t, defaultLeave, v.AutomaticLeave)
				require.Equal(t, store.Recording{Enabled: false, Mode: "none"}, v.Recording)
				require.JSONEq(t, `{}`, string(v.Metadata))
				require.Nil(t, v.CallbackURL)
			}

			got := b.do(t, http.MethodGet, "/api/v1/bots/"+v.ID.String(), b.acme, "")
			got.requireStatus(t, http.StatusOK)
			var withPosition map[string]any
			require.NoError(t, json.Unmarshal(got.body, &withPosition))
			if tc.wantStatus == store.StatusQueued {
				require.EqualValues(t, 1, withPosition["queue_position"], "GET shows a queued bot's place")
			}
			delete(withPosition, "queue_position")
			require.JSONEq(t, string(r.body), string(mustJSON(t, withPosition)), "GET returns what create returned")

			require.Equal(t, 1, b.reconcileJobs(t, v.ID), "the create enqueued the bot's reconcile")
			require.Equal(t, []string{string(tc.wantStatus)}, eventTypes(b.events(t, b.acme, v.ID, "")))
			b.requireValidated(t)
		})
	}
}

func TestCreateBotRejectsBadInputWritingNothing(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()

	// A valid create writes to every table watched below, so "unchanged"
	// means something.
	before := b.counts(t)
	b.create(t, b.acme, meetingBody(meetURL), "Idempotency-Key", "valid")
	after := b.counts(t)
	require.Greater(t, after.bots, before.bots)
	require.Greater(t, after.idempotencyKeys, before.idempotencyKeys)
	require.Greater(t, after.jobs, before.jobs)
	require.Greater(t, after.events, before.events)

	revoked, key, err := b.st.CreateAPIKey(ctx, "acme", "old", t0)
	require.NoError(t, err)
	b.list(t, revoked, "") // works until revoked
	require.NoError(t, b.st.RevokeAPIKey(ctx, key.ID, t0))

	rfc := func(d time.Duration) string { return t0.Add(d).Format(time.RFC3339) }
	withMeet := func(extra string) string { return `{"meeting_url":"` + meetURL + `",` + extra + `}` }
	const (
		none  = "none"
		wrong = "wrong"
	)
	cases := []struct {
		name   string
		key    string // an API key, none, wrong or "" for acme's
		body   string
		header []string
		status int
		fields []string // the field errors, exactly
		detail string   // a part of the problem's detail
	}{
		{name: "malformed JSON", body: `{"meeting_url":`, status: 400, detail: "malformed JSON"},
		{name: "NUL in bot_name", body: withMeet(`"bot_name":"a\u0000b"`), status: 422, fields: []string{"bot_name"}},
		{name: "NUL in metadata", body: withMeet(`"metadata":{"a":"\u0000"}`), status: 422, fields: []string{"metadata"}},
		{name: "not an object", body: `["https://meet.google.com/abc-defg-hij"]`, status: 400, detail: "malformed JSON"},
		{name: "empty body", body: ``, status: 400, detail: "malformed JSON"},
		{name: "wrong type", body: `{"meeting_url":42}`, status: 400, detail: "meeting_url"},
		{name: "unparsable join_at", body: withMeet(`"join_at":"tomorrow"`), status: 400, detail: "malformed JSON"},
		{name: "unknown field", body: withMeet(`"colour":"red"`), status: 400, detail: `unknown field "colour"`},
		{name: "unknown nested field", body: withMeet(`"recording":{"enabled":true,"fps":30}`), status: 400, detail: `unknown field "fps"`},
		{name: "trailing garbage", body: meetingBody(meetURL) + ` x`, status: 400, detail: "trailing data"},
		{name: "two objects", body: meetingBody(meetURL) + meetingBody(meetURL), status: 400, detail: "trailing data"},
		{name: "missing meeting_url", body: `{}`, status: 422, fields: []string{"meeting_url"}},
		{name: "blank meeting_url", body: `{"meeting_url":"   "}`, status: 422, fields: []string{"meeting_url"}},
		{name: "not a meeting link", body: meetingBody("https://example.com/meeting/123"), status: 422, fields: []string{"meeting_url"}},
		{name: "http meeting link", body: meetingBody("http://zoom.us/j/123456789"), status: 422, fields: []string{"meeting_url"}},
		{name: "unknown platform", body: withMeet(`"meeting_platform":"webex"`), status: 422, fields: []string{"meeting_platform"}},
		{name: "platform mismatch", body: withMeet(`"meeting_platform":"zoom"`), status: 422, fields: []string{"meeting_platform"}},
		{name: "join_at an hour in the past", body: withMeet(`"join_at":"` + rfc(-time.Hour) + `"`), status: 422, fields: []string{"join_at"}},
		{name: "join_at too far ahead", body: withMeet(`"join_at":"` + rfc(91*24*time.Hour) + `"`), status: 422, fields: []string{"join_at"}},
		{name: "waiting room timeout too short", body: withMeet(`"automatic_leave":{"waiting_room_timeout_seconds":59}`),
			status: 422, fields: []string{"automatic_leave.waiting_room_timeout_seconds"}},
		{name: "inactivity timeout too long", body: withMeet(`"automatic_leave":{"inactivity_timeout_seconds":7201}`),
			status: 422, fields: []string{"automatic_leave.inactivity_timeout_seconds"}},
		{name: "noone joined timeout negative", body: withMeet(`"automatic_leave":{"noone_joined_timeout_seconds":-1}`),
			status: 422, fields: []string{"automatic_leave.noone_joined_timeout_seconds"}},
		{name: "everyone left timeout too long", body: withMeet(`"automatic_leave":{"everyone_left_timeout_seconds":3601}`),
			status: 422, fields: []string{"automatic_leave.everyone_left_timeout_seconds"}},
		{name: "metadata an array", body: withMeet(`"metadata":[1,2]`), status: 422, fields: []string{"metadata"}},
		{name: "metadata a string", body: withMeet(`"metadata":"x"`), status: 422, fields: []string{"metadata"}},
		{name: "metadata too large", body: withMeet(`"metadata":{"k":"` + strings.Repeat("x", MaxMetadataBytes) + `"}`),
			status: 422, fields: []string{"metadata"}},
		{name: "callback_url not http", body: withMeet(`"callback_url":"ftp://x"`), status: 422, fields: []string{"callback_url"}},
		{name: "callback_url relative", body: withMeet(`"callback_url":"/hook"`), status: 422, fields: []string{"callback_url"}},
		{name: "callback_url with credentials", body: withMeet(`"callback_url":"https://u:p@example.com/"`), status: 422, fields: []string{"callback_url"}},
		{name: "blank bot_name", body: withMeet(`"bot_name":"   "`), status: 422, fields: []string{"bot_name"}},
		{name: "bot_name too long", body: withMeet(`"bot_name":"` + strings.Repeat("é", MaxBotNameLength+1) + `"`), status: 422, fields: []string{"bot_name"}},
		{name: "unknown recording mode", body: withMeet(`"recording":{"enabled":true,"mode":"gif"}`), status: 422, fields: []string{"recording.mode"}},
		{name: "every problem reported", body: `{"meeting_url":"https://example.com","bot_name":"","callback_url":"ftp://x","automatic_leave":{"waiting_room_timeout_seconds":1}}`,
			status: 422, fields: []string{"meeting_url", "bot_name", "automatic_leave.waiting_room_timeout_seconds", "callback_url"}},
		{name: "body over 64 KiB", body: `{"meeting_url":"` + meetURL + `","bot_name":"` + strings.Repeat("x", 64<<10) + `"}`,
			status: 413, detail: "larger than 65536 bytes"},
		{name: "Idempotency-Key over 255 characters", body: meetingBody(meetURL),
			header: []string{"Idempotency-Key", strings.Repeat("k", 256)}, status: 400, detail: "Idempotency-Key"},
		{name: "missing API key", key: none, body: meetingBody(meetURL), status: 401, detail: "missing API key"},
		{name: "wrong API key", key: wrong, body: meetingBody(meetURL), status: 401, detail: "invalid or revoked"},
		{name: "revoked API key", key: revoked, body: meetingBody(meetURL), status: 401, detail: "invalid or revoked"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key := tc.key
			switch key {
			case "":
				key = b.acme
			case none:
				key = ""
			case wrong:
				key = "mb_" + rand.Text()
			}
			header := tc.header
			if header == nil { // a key that would be stored if anything were
				header = []string{"Idempotency-Key", fmt.Sprintf("bad-%d", i)}
			}
			before := b.counts(t)
			r := b.do(t, http.MethodPost, "/api/v1/bots", key, tc.body, header...)
			r.requireStatus(t, tc.status)
			p := r.problem(t)
			require.Contains(t, p.Detail, tc.detail)
			require.ElementsMatch(t, tc.fields, p.fields(), "field errors: %+v", p.Errors)
			for _, fe := range p.Errors {
				require.NotEmpty(t, fe.Message, "field %s", fe.Field)
			}
			if tc.status == http.StatusUnauthorized {
				require.True(t, strings.HasPrefix(r.header.Get("WWW-Authenticate"), `Bearer realm="meeboter"`))
			}
			require.Equal(t, before, b.counts(t), "a rejected create writes nothing")
		})
	}

	// The rejected requests did not consume their Idempotency-Keys.
	r := b.do(t, http.MethodPost, "/api/v1/bots", b.acme, meetingBody(zoomURL), "Idempotency-Key", "bad-0")
	r.requireStatus(t, http.StatusCreated)
	require.Empty(t, r.header.Get("Idempotent-Replayed"))
	b.requireValidated(t)
}

func TestCreateBotIdempotencyKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := `{"meeting_url":"` + zoomURL + `","bot_name":"Notetaker"}`

	first := b.do(t, http.MethodPost, "/api/v1/bots", b.acme, body, "Idempotency-Key", "order-1")
	first.requireStatus(t, http.StatusCreated)
	require.Empty(t, first.header.Get("Idempotent-Replayed"))
	bot := decodeJSON[BotView](t, first)
	afterFirst := b.counts(t)

	// The bot changes; a replay still answers the stored response.
	b.clock.Advance(time.Minute)
	b.do(t, http.MethodPost, "/api/v1/bots/"+bot.ID.String()+"/leave", b.acme, "").requireStatus(t, http.StatusAccepted)
	afterLeave := b.counts(t)

	replay := b.do(t, http.MethodPost, "/api/v1/bots", b.acme, body, "Idempotency-Key", "order-1")
	replay.requireStatus(t, http.StatusCreated)
	require.Equal(t, "true", replay.header.Get("Idempotent-Replayed"))
	replayed := decodeJSON[BotView](t, replay)
	require.Equal(t, bot.ID, replayed.ID)
	require.JSONEq(t, string(first.body), string(replay.body), "the replay is the stored 201 response")
	require.Equal(t, store.DesiredRunning, replayed.Desired, "the bot as it was when created")
	require.Equal(t, afterLeave, b.counts(t), "a replay writes nothing")
	require.Equal(t, 1, afterFirst.bots)
	require.Equal(t, 1, afterFirst.idempotencyKeys)

	// Same key, another body.
	r := b.do(t, http.MethodPost, "/api/v1/bots", b.acme, meetingBody(zoomURL), "Idempotency-Key", "order-1")
	r.requireStatus(t, http.StatusConflict)
	require.Contains(t, r.problem(t).Detail, "different request body")
	require.Equal(t, afterLeave, b.counts(t))

	// The key is scoped to the owner.
	other := b.create(t, b.globex, body, "Idempotency-Key", "order-1")
	require.NotEqual(t, bot.ID, other.ID)

	// Without a key nothing is deduplicated.
	a := b.create(t, b.acme, body)
	c := b.create(t, b.acme, body)
	require.NotEqual(t, a.ID, c.ID)

	// 255 characters is the limit.
	long := strings.Repeat("k", maxIdempotencyKey)
	v := b.create(t, b.acme, body, "Idempotency-Key", long)
	again := b.do(t, http.MethodPost, "/api/v1/bots", b.acme, body, "Idempotency-Key", long)
	again.requireStatus(t, http.StatusCreated)
	require.Equal(t, "true", again.header.Get("Idempotent-Replayed"))
	require.Equal(t, v.ID, decodeJSON[BotView](t, again).ID)
	before := b.counts(t)
	r = b.do(t, http.MethodPost, "/api/v1/bots", b.acme, body, "Idempotency-Key", long+"k")
	r.requireStatus(t, http.StatusBadRequest)
	require.Contains(t, r.problem(t).Detail, "Idempotency-Key")
	require.Equal(t, before, b.counts(t))

	require.Len(t, b.list(t, b.acme, "").Bots, 4, "order-1, two without a key, the long key")
	b.requireValidated(t)
}

func TestCreateBotReplaysBeforeValidating(t *testing.T) {
	t.Parallel()
	b := setup(t)
	body := `{"meeting_url":"` + meetURL + `","join_at":"` + t0.Add(time.Minute).Format(time.RFC3339) + `","metadata":{"n":9007199254740993}}`
	first := b.do(t, http.MethodPost, "/api/v1/bots", b.acme, body, "Idempotency-Key", "retry-later")
	first.requireStatus(t, http.StatusCreated)
	require.Contains(t, string(first.body), `"n":9007199254740993`, "metadata keeps its numbers exactly")

	// Ten minutes later join_at is in the past, but a retry of the accepted
	// request still replays it.
	b.clock.Advance(10 * time.Minute)
	replay := b.do(t, http.MethodPost, "/api/v1/bots", b.acme, body, "Idempotency-Key", "retry-later")
	replay.requireStatus(t, http.StatusCreated)
	require.Equal(t, "true", replay.header.Get("Idempotent-Replayed"))
	require.Equal(t, string(first.body), string(replay.body), "byte for byte")
	b.requireValidated(t)
}

func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bot := b.create(t, b.acme, meetingBody(meetURL))
	path := "/api/v1/bots/" + bot.ID.String()
	before := b.counts(t)

	cases := []struct{ method, path string }{
		{http.MethodGet, path},
		{http.MethodGet, path + "/events"},
		{http.MethodPost, path + "/leave"},
		{http.MethodDelete, path},
	}
	missing := "/api/v1/bots/" + uuid.Must(uuid.NewV7()).String()
	for _, tc := range cases {
		r := b.do(t, tc.method, tc.path, b.globex, "")
		r.requireStatus(t, http.StatusNotFound)
		// Exactly what a bot that does not exist gets: nothing leaks.
		nonexistent := b.do(t, tc.method, strings.Replace(tc.path, path, missing, 1), b.globex, "")
		nonexistent.requireStatus(t, http.StatusNotFound)
		require.Equal(t, nonexistent.problem(t), r.problem(t), "%s %s", tc.method, tc.path)
	}
	require.Empty(t, b.list(t, b.globex, "").Bots)
	require.Empty(t, b.list(t, b.globex, "?status=QUEUED").Bots)

	// globex's stop requests changed nothing.
	require.Equal(t, before, b.counts(t))
	got := b.get(t, b.acme, bot.ID)
	require.Equal(t, store.DesiredRunning, got.Desired)
	require.EqualValues(t, 1, got.Generation)
	require.Equal(t, []uuid.UUID{bot.ID}, ids(b.list(t, b.acme, "").Bots))

	// Authorization: Bearer wins over X-API-Key.
	r := b.do(t, http.MethodGet, path, b.globex, "", "X-API-Key", b.acme)
	r.requireStatus(t, http.StatusNotFound)
	// X-API-Key alone authenticates.
	r = b.do(t, http.MethodGet, path, "", "", "X-API-Key", b.acme)
	r.requireStatus(t, http.StatusOK)
	require.Equal(t, bot.ID, decodeJSON[BotView](t, r).ID)

	// An id that is not a UUID is "no such bot" too.
	r = b.do(t, http.MethodGet, "/api/v1/bots/not-a-uuid", b.acme, "")
	r.requireStatus(t, http.StatusNotFound)
	require.Equal(t, "no such bot", r.problem(t).Detail)
	b.requireValidated(t)
}

func TestListBotsPagination(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var created []uuid.UUID
	for range 7 {
		created = append(created, b.create(t, b.acme, meetingBody(meetURL)).ID)
	}
	b.create(t, b.globex, meetingBody(meetURL))
	newestFirst := slices.Clone(created)
	slices.Reverse(newestFirst)

	var pages [][]uuid.UUID
	cursor := ""
	for {
		q := "?limit=3"
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		page := b.list(t, b.acme, q)
		pages = append(pages, ids(page.Bots))
		if page.NextCursor == nil {
			break
		}
		require.Equal(t, page.Bots[len(page.Bots)-1].ID.String(), *page.NextCursor, "the cursor is the page's last bot")
		cursor = *page.NextCursor
		require.Less(t, len(pages), 4, "pagination does not end")
	}
	require.Equal(t, [][]uuid.UUID{newestFirst[0:3], newestFirst[3:6], newestFirst[6:7]}, pages)

	// A page that ends exactly at the last bot has no next page.
	all := b.list(t, b.acme, "?limit=7")
	require.Equal(t, newestFirst, ids(all.Bots))
	require.Nil(t, all.NextCursor)
	almost := b.list(t, b.acme, "?limit=6")
	require.Equal(t, newestFirst[:6], ids(almost.Bots))
	require.NotNil(t, almost.NextCursor)
	require.Equal(t, newestFirst, ids(b.list(t, b.acme, "").Bots), "the default limit is 50")
	b.requireValidated(t)
}

func TestListBotsFilters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	teams := b.create(t, b.acme, meetingBody(teamsURL))
	b.deploy(t, teams.ID) // DEPLOYING
	meet := b.create(t, b.acme, meetingBody(meetURL))
	zoom := b.create(t, b.acme, `{"meeting_url":"`+zoomURL+`","join_at":"`+t0.Add(time.Hour).Format(time.RFC3339)+`"}`)
	b.create(t, b.globex, meetingBody(zoomURL))
	require.Equal(t, store.StatusDeploying, b.get(t, b.acme, teams.ID).Status)
	require.Equal(t, store.StatusQueued, meet.Status)
	require.Equal(t, store.StatusScheduled, zoom.Status)

	cases := []struct {
		query string
		want  []uuid.UUID // newest first
	}{
		{"", []uuid.UUID{zoom.ID, meet.ID, teams.ID}},
		{"?status=QUEUED", []uuid.UUID{meet.ID}},
		{"?status=QUEUED&status=SCHEDULED", []uuid.UUID{zoom.ID, meet.ID}},
		{"?status=QUEUED,DEPLOYING", []uuid.UUID{meet.ID, teams.ID}},
		{"?status=SCHEDULED,QUEUED&status=DEPLOYING", []uuid.UUID{zoom.ID, meet.ID, teams.ID}},
		{"?status=DONE", []uuid.UUID{}},
		{"?meeting_platform=zoom", []uuid.UUID{zoom.ID}},
		{"?meeting_platform=microsoft-teams", []uuid.UUID{teams.ID}},
		{"?meeting_platform=google-meet&status=QUEUED", []uuid.UUID{meet.ID}},
		{"?meeting_platform=zoom&status=QUEUED", []uuid.UUID{}},
		{"?meeting_platform=webex", []uuid.UUID{}},
		{"?status=SCHEDULED,QUEUED,DEPLOYING&limit=1", []uuid.UUID{zoom.ID}},
		{"?cursor=" + zoom.ID.String(), []uuid.UUID{meet.ID, teams.ID}},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, ids(b.list(t, b.acme, tc.query).Bots), tc.query)
	}

	bad := []struct {
		query  string
		fields []string
	}{
		{"?limit=0", []string{"limit"}},
		{"?limit=101", []string{"limit"}},
		{"?limit=-1", []string{"limit"}},
		{"?limit=ten", []string{"limit"}},
		{"?status=RUNNING", []string{"status"}},
		{"?status=QUEUED,queued", []string{"status"}},
		{"?cursor=page-2", []string{"cursor"}},
		{"?status=NOPE&limit=0&cursor=x", []string{"status", "limit", "cursor"}},
	}
	for _, tc := range bad {
		r := b.do(t, http.MethodGet, "/api/v1/bots"+tc.query, b.acme, "")
		r.requireStatus(t, http.StatusBadRequest)
		require.Equal(t, tc.fields, r.problem(t).fields(), tc.query)
	}
	b.requireValidated(t)
}

func TestListEvents(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bot := b.create(t, b.acme, meetingBody(meetURL))

	timeline := b.events(t, b.acme, bot.ID, "")
	require.Len(t, timeline.Events, 1)
	queued := timeline.Events[0]
	require.Equal(t, "QUEUED", queued.Type)
	require.JSONEq(t, `{}`, string(queued.Data))
	require.True(t, t0.Equal(queued.OccurredAt))
	require.Equal(t, queued.ID, timeline.NextAfter)

	b.clock.Advance(time.Minute)
	b.do(t, http.MethodPost, "/api/v1/bots/"+bot.ID.String()+"/leave", b.acme, "").requireStatus(t, http.StatusAccepted)
	b.clock.Advance(time.Minute)
	b.do(t, http.MethodDelete, "/api/v1/bots/"+bot.ID.String(), b.acme, "").requireStatus(t, http.StatusAccepted)

	all := b.events(t, b.acme, bot.ID, "")
	require.Equal(t, []string{"QUEUED", "STOP_REQUESTED", "STOP_REQUESTED"}, eventTypes(all))
	require.JSONEq(t, `{"mode":"leave"}`, string(all.Events[1].Data))
	require.JSONEq(t, `{"mode":"cancel"}`, string(all.Events[2].Data))
	require.True(t, t0.Add(2*time.Minute).Equal(all.Events[2].OccurredAt))

	// Page through with after = next_after.
	var paged []EventView
	after := int64(0)
	for range 10 {
		page := b.events(t, b.acme, bot.ID, fmt.Sprintf("?after=%d&limit=1", after))
		if len(page.Events) == 0 {
			require.Equal(t, after, page.NextAfter, "an empty page echoes after")
			break
		}
		require.Len(t, page.Events, 1)
		require.Greater(t, page.NextAfter, after)
		paged = append(paged, page.Events...)
		after = page.NextAfter
	}
	require.Equal(t, all.Events, paged)
	rest := b.events(t, b.acme, bot.ID, fmt.Sprintf("?after=%d", all.Events[0].ID))
	require.Equal(t, all.Events[1:], rest.Events)

	for _, q := range []string{"?after=-1", "?after=x", "?limit=0", "?limit=1001"} {
		r := b.do(t, http.MethodGet, "/api/v1/bots/"+bot.ID.String()+"/events"+q, b.acme, "")
		r.requireStatus(t, http.StatusBadRequest)
		r.problem(t)
	}
	b.requireValidated(t)
}

func TestStopBot(t *testing.T) {
	t.Parallel()
	b := setup(t)
	stopRequests := func(t *testing.T, id uuid.UUID) int {
		t.Helper()
		n := 0
		for _, e := range b.events(t, b.acme, id, "").Events {
			if e.Type == "STOP_REQUESTED" {
				n++
			}
		}
		return n
	}
	stop := func(t *testing.T, method, path string) BotView {
		t.Helper()
		r := b.do(t, method, path, b.acme, "")
		r.requireStatus(t, http.StatusAccepted)
		return decodeJSON[BotView](t, r)
	}

	t.Run("leave", func(t *testing.T) {
		bot := b.create(t, b.acme, meetingBody(meetURL))
		path := "/api/v1/bots/" + bot.ID.String()
		for range 2 {
			v := stop(t, http.MethodPost, path+"/leave")
			require.Equal(t, store.DesiredStopped, v.Desired)
			require.NotNil(t, v.StopMode)
			require.Equal(t, store.StopLeave, *v.StopMode)
			require.EqualValues(t, 2, v.Generation, "a repeated leave changes nothing")
			require.Equal(t, store.StatusQueued, v.Status, "the stop is asynchronous")
		}
		require.Equal(t, 1, stopRequests(t, bot.ID))
		got := b.get(t, b.acme, bot.ID)
		require.Equal(t, store.StopLeave, *got.StopMode)

		// A cancel overrides a leave; a leave never downgrades a cancel.
		v := stop(t, http.MethodDelete, path)
		require.Equal(t, store.StopCancel, *v.StopMode)
		require.EqualValues(t, 3, v.Generation)
		v = stop(t, http.MethodPost, path+"/leave")
		require.Equal(t, store.StopCancel, *v.StopMode)
		require.EqualValues(t, 3, v.Generation)
		require.Equal(t, 2, stopRequests(t, bot.ID))
	})

	t.Run("cancel", func(t *testing.T) {
		bot := b.create(t, b.acme, meetingBody(zoomURL))
		path := "/api/v1/bots/" + bot.ID.String()
		jobs := b.reconcileJobs(t, bot.ID)
		for range 2 {
			v := stop(t, http.MethodDelete, path)
			require.Equal(t, store.DesiredStopped, v.Desired)
			require.Equal(t, store.StopCancel, *v.StopMode)
			require.EqualValues(t, 2, v.Generation, "a repeated cancel changes nothing")
		}
		require.Equal(t, 1, stopRequests(t, bot.ID))
		require.Equal(t, jobs, b.reconcileJobs(t, bot.ID), "the reconcile is still pending once (unique job)")

		// The row stays: readable and listed.
		got := b.get(t, b.acme, bot.ID)
		require.Equal(t, store.StopCancel, *got.StopMode)
		require.Contains(t, ids(b.list(t, b.acme, "").Bots), bot.ID)
	})

	t.Run("unknown bot", func(t *testing.T) {
		missing := "/api/v1/bots/" + uuid.Must(uuid.NewV7()).String()
		b.do(t, http.MethodPost, missing+"/leave", b.acme, "").requireStatus(t, http.StatusNotFound)
		b.do(t, http.MethodDelete, missing, b.acme, "").requireStatus(t, http.StatusNotFound)
	})
	b.requireValidated(t)
}

func TestBotAPIAuthentication(t *testing.T) {
	t.Parallel()
	b := setup(t)
	botA := b.create(t, b.acme, meetingBody(meetURL))
	botB := b.create(t, b.acme, meetingBody(zoomURL))
	tokens := b.deploy(t, botA.ID, botB.ID)
	before := b.counts(t)

	endpoints := []struct{ method, path, body string }{
		{http.MethodGet, botproto.PathConfig, ""},
		{http.MethodPost, botproto.PathHeartbeat, "{}"},
		{http.MethodPost, botproto.PathStatus, `{"status":"JOINING_CALL"}`},
		{http.MethodPost, botproto.PathEvents, `{"events":[{"type":"PARTICIPANT_JOIN"}]}`},
	}
	cases := []struct {
		name   string
		header []string
		status int
	}{
		{"no token", []string{botproto.HeaderBotID, botA.ID.String()}, http.StatusUnauthorized},
		{"no bot id", []string{"Authorization", "Bearer " + tokens[0]}, http.StatusUnauthorized},
		{"bot id not a uuid", []string{"Authorization", "Bearer " + tokens[0], botproto.HeaderBotID, "bot-a"}, http.StatusUnauthorized},
		{"not bearer", []string{"Authorization", "Basic " + tokens[0], botproto.HeaderBotID, botA.ID.String()}, http.StatusUnauthorized},
		{"wrong token", []string{"Authorization", "Bearer " + rand.Text(), botproto.HeaderBotID, botA.ID.String()}, http.StatusUnauthorized},
		{"an API key", []string{"Authorization", "Bearer " + b.acme, botproto.HeaderBotID, botA.ID.String()}, http.StatusUnauthorized},
		{"another bot's token", []string{"Authorization", "Bearer " + tokens[1], botproto.HeaderBotID, botA.ID.String()}, http.StatusForbidden},
	}
	for _, ep := range endpoints {
		for _, tc := range cases {
			r := b.do(t, ep.method, ep.path, "", ep.body, tc.header...)
			require.Equal(t, tc.status, r.status, "%s %s %s: %s", tc.name, ep.method, ep.path, r.body)
			r.problem(t)
		}
	}
	require.Equal(t, before, b.counts(t), "no rejected call wrote anything")
	for _, v := range []BotView{b.get(t, b.acme, botA.ID), b.get(t, b.acme, botB.ID)} {
		require.Equal(t, store.StatusDeploying, v.Status)
		require.Nil(t, v.LastHeartbeatAt)
	}

	// The right token and id work, for each bot.
	for i, id := range []uuid.UUID{botA.ID, botB.ID} {
		r := b.botDo(t, http.MethodGet, botproto.PathConfig, tokens[i], id, "")
		r.requireStatus(t, http.StatusOK)
		require.Equal(t, id.String(), decodeJSON[botproto.Config](t, r).BotID)
	}
	b.requireValidated(t)
}

func TestBotConfig(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bot := b.create(t, b.acme, `{"meeting_url":"`+teamsURL+`","bot_name":"Scribe",
		"automatic_leave":{"noone_joined_timeout_seconds":120},"recording":{"enabled":true,"mode":"audio"},
		"metadata":{"customer":"acme","n":1}}`)
	b.clock.Advance(30 * time.Second)
	deployedAt := b.clock.Now()
	tok := b.deploy(t, bot.ID)[0]

	r := b.botDo(t, http.MethodGet, botproto.PathConfig, tok, bot.ID, "")
	r.requireStatus(t, http.StatusOK)
	cfg := decodeJSON[botproto.Config](t, r)
	leaveAt := deployedAt.Add(maxLifetime)
	require.NotNil(t, cfg.LeaveAt)
	require.True(t, leaveAt.Equal(*cfg.LeaveAt), "leave_at %s", cfg.LeaveAt)
	cfg.LeaveAt = nil
	require.Equal(t, botproto.Config{BotID: bot.ID.String(), Attempt: 1, MeetingURL: teamsURL,
		MeetingPlatform: botproto.PlatformTeams, BotName: "Scribe",
		AutomaticLeave: botproto.AutomaticLeave{WaitingRoomTimeoutSeconds: 600, NooneJoinedTimeoutSeconds: 120,
			EveryoneLeftTimeoutSeconds: 60, InactivityTimeoutSeconds: 300},
		Recording: botproto.Recording{Enabled: true, Mode: "audio"},
		Metadata:  map[string]any{"customer": "acme", "n": float64(1)}, HeartbeatIntervalSeconds: 10}, cfg)

	// A bot asked to stop is told to exit.
	b.do(t, http.MethodDelete, "/api/v1/bots/"+bot.ID.String(), b.acme, "").requireStatus(t, http.StatusAccepted)
	cfg = decodeJSON[botproto.Config](t, b.botDo(t, http.MethodGet, botproto.PathConfig, tok, bot.ID, ""))
	require.True(t, cfg.ShouldExit)
	require.Equal(t, "the bot was asked to stop", cfg.ExitReason)
	b.requireValidated(t)
}

func TestBotHeartbeat(t *testing.T) {
	t.Parallel()
	b := setup(t)
	stopped := b.create(t, b.acme, meetingBody(meetURL))
	aging := b.create(t, b.acme, meetingBody(zoomURL))
	tokens := b.deploy(t, stopped.ID, aging.ID) // at t0
	beat := func(t *testing.T, i int, id uuid.UUID) botproto.HeartbeatResponse {
		t.Helper()
		r := b.botDo(t, http.MethodPost, botproto.PathHeartbeat, tokens[i], id, "{}")
		r.requireStatus(t, http.StatusOK)
		return decodeJSON[botproto.HeartbeatResponse](t, r)
	}

	at := b.clock.Advance(heartbeatInterval)
	require.Equal(t, botproto.HeartbeatResponse{ShouldLeave: false, Status: "DEPLOYING"}, beat(t, 0, stopped.ID))
	requireTime(t, at, b.get(t, b.acme, stopped.ID).LastHeartbeatAt, "the beat is recorded")
	require.Nil(t, b.get(t, b.acme, aging.ID).LastHeartbeatAt, "only the beating bot's")

	b.do(t, http.MethodPost, "/api/v1/bots/"+stopped.ID.String()+"/leave", b.acme, "").requireStatus(t, http.StatusAccepted)
	require.Equal(t, botproto.HeartbeatResponse{ShouldLeave: true, Status: "DEPLOYING"}, beat(t, 0, stopped.ID))

	// The lifetime is counted from the deploy start.
	b.clock.Set(t0.Add(maxLifetime - time.Second))
	require.False(t, beat(t, 1, aging.ID).ShouldLeave)
	b.clock.Set(t0.Add(maxLifetime))
	require.True(t, beat(t, 1, aging.ID).ShouldLeave)
	requireTime(t, t0.Add(maxLifetime), b.get(t, b.acme, aging.ID).LastHeartbeatAt)
	b.requireValidated(t)
}

func TestBotStatusTransitions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bot := b.create(t, b.acme, meetingBody(meetURL))
	tok := b.deploy(t, bot.ID)[0]

	steps := []struct {
		report, reason string
		status         int
		field          string       // of a 422
		want           store.Status // the bot's status after the step
	}{
		{report: "DANCING", status: 422, field: "status", want: store.StatusDeploying},
		{report: "DEPLOYING", status: 422, field: "status", want: store.StatusDeploying},
		{report: "JOINING_CALL", status: 200, want: store.StatusJoiningCall},
		{report: "IN_CALL", reason: "Not A Code", status: 422, field: "reason", want: store.StatusJoiningCall},
		{report: "IN_CALL", status: 200, want: store.StatusInCall},
		{report: "JOINING_CALL", status: 409, want: store.StatusInCall},
		{report: "LEAVING", reason: "everyone_left", status: 200, want: store.StatusLeaving},
		{report: "IN_CALL", status: 409, want: store.StatusLeaving},
		{report: "LEAVING", status: 200, want: store.StatusLeaving},
		{report: "DONE", status: 200, want: store.StatusDone},
		{report: "FATAL", reason: "crashed", status: 409, want: store.StatusDone},
		{report: "IN_CALL", status: 409, want: store.StatusDone},
	}
	times := map[store.Status]time.Time{}
	for i, step := range steps {
		now := b.clock.Advance(time.Minute)
		body, err := json.Marshal(botproto.StatusRequest{Status: botproto.Status(step.report), Reason: step.reason})
		require.NoError(t, err)
		r := b.botDo(t, http.MethodPost, botproto.PathStatus, tok, bot.ID, string(body))
		require.Equal(t, step.status, r.status, "step %d %s: %s", i, step.report, r.body)
		if step.status == http.StatusOK {
			require.Equal(t, botproto.StatusResponse{Status: botproto.Status(step.want)}, decodeJSON[botproto.StatusResponse](t, r))
			if _, seen := times[step.want]; !seen {
				times[step.want] = now
			}
		} else {
			p := r.problem(t)
			if step.field != "" {
				require.Equal(t, []string{step.field}, p.fields())
			}
		}
		require.Equal(t, step.want, b.get(t, b.acme, bot.ID).Status, "step %d %s", i, step.report)
	}

	v := b.get(t, b.acme, bot.ID)
	require.NotNil(t, v.StatusReason)
	require.Equal(t, store.ReasonCompleted, *v.StatusReason)
	requireTime(t, times[store.StatusInCall], v.JoinedAt, "joined_at")
	requireTime(t, times[store.StatusDone], v.EndedAt, "ended_at")
	requireTime(t, times[store.StatusLeaving], v.LastHeartbeatAt, "a progress report counts as a beat")
	timeline := b.events(t, b.acme, bot.ID, "")
	require.Equal(t, []string{"QUEUED", "DEPLOYING", "JOINING_CALL", "IN_CALL", "LEAVING", "DONE"}, eventTypes(timeline))
	require.JSONEq(t, `{"reason":"everyone_left"}`, string(timeline.Events[4].Data))
	require.JSONEq(t, `{"reason":"completed"}`, string(timeline.Events[5].Data))

	// A finished bot's token is fenced (409: exit), and its heartbeat is
	// not recorded.
	b.clock.Advance(time.Minute)
	b.botDo(t, http.MethodGet, botproto.PathConfig, tok, bot.ID, "").requireStatus(t, http.StatusConflict)
	r := b.botDo(t, http.MethodPost, botproto.PathHeartbeat, tok, bot.ID, "{}")
	r.requireStatus(t, http.StatusConflict)
	require.Contains(t, r.problem(t).Detail, "must exit")
	requireTime(t, times[store.StatusLeaving], b.get(t, b.acme, bot.ID).LastHeartbeatAt)
	// A stop request on a finished bot changes nothing.
	r = b.do(t, http.MethodPost, "/api/v1/bots/"+bot.ID.String()+"/leave", b.acme, "")
	r.requireStatus(t, http.StatusAccepted)
	require.Equal(t, store.DesiredRunning, decodeJSON[BotView](t, r).Desired)

	t.Run("fatal with the bot's reason", func(t *testing.T) {
		other := b.create(t, b.acme, meetingBody(zoomURL))
		otherTok := b.deploy(t, other.ID)[0]
		r := b.botDo(t, http.MethodPost, botproto.PathStatus, otherTok, other.ID, `{"status":"FATAL","reason":"meeting_not_found"}`)
		r.requireStatus(t, http.StatusOK)
		v := b.get(t, b.acme, other.ID)
		require.Equal(t, store.StatusFatal, v.Status)
		require.Equal(t, "meeting_not_found", *v.StatusReason)
	})
	t.Run("CALL_ENDED means leaving", func(t *testing.T) {
		other := b.create(t, b.acme, meetingBody(teamsURL))
		otherTok := b.deploy(t, other.ID)[0]
		r := b.botDo(t, http.MethodPost, botproto.PathStatus, otherTok, other.ID, `{"status":"CALL_ENDED"}`)
		r.requireStatus(t, http.StatusOK)
		require.Equal(t, botproto.StatusLeaving, decodeJSON[botproto.StatusResponse](t, r).Status)
	})
	t.Run("malformed body", func(t *testing.T) {
		other := b.create(t, b.acme, meetingBody(meetURL))
		otherTok := b.deploy(t, other.ID)[0] // a live one: an ended bot's token is fenced first
		for _, body := range []string{`{"status":`, `{"status":"IN_CALL","extra":1}`} {
			r := b.botDo(t, http.MethodPost, botproto.PathStatus, otherTok, other.ID, body)
			r.requireStatus(t, http.StatusBadRequest)
			r.problem(t)
		}
	})
	b.requireValidated(t)
}

func TestBotEventsBatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bot := b.create(t, b.acme, meetingBody(meetURL))
	tok := b.deploy(t, bot.ID)[0]
	now := b.clock.Advance(time.Minute)

	body := `{"events":[
		{"type":"PARTICIPANT_JOIN","occurred_at":"` + t0.Add(5*time.Second).Format(time.RFC3339) + `","data":{"name":"Ada"}},
		{"type":"PARTICIPANT_LEAVE","data":{"name":"Ada","after":[1,2]}},
		{"type":"SCREEN_SHARE_STARTED"}]}`
	r := b.botDo(t, http.MethodPost, botproto.PathEvents, tok, bot.ID, body)
	r.requireStatus(t, http.StatusOK)
	require.Equal(t, botproto.EventsResponse{Accepted: 3}, decodeJSON[botproto.EventsResponse](t, r))

	timeline := b.events(t, b.acme, bot.ID, "")
	require.Equal(t, []string{"QUEUED", "DEPLOYING", "PARTICIPANT_JOIN", "PARTICIPANT_LEAVE", "SCREEN_SHARE_STARTED"}, eventTypes(timeline))
	join, leave, share := timeline.Events[2], timeline.Events[3], timeline.Events[4]
	require.JSONEq(t, `{"name":"Ada"}`, string(join.Data))
	require.True(t, t0.Add(5*time.Second).Equal(join.OccurredAt), "the bot's time is kept")
	require.JSONEq(t, `{"name":"Ada","after":[1,2]}`, string(leave.Data))
	require.True(t, now.Equal(leave.OccurredAt), "a missing time is the server's")
	require.JSONEq(t, `{}`, string(share.Data))

	before := b.counts(t)
	tooMany := `{"events":[` + strings.TrimSuffix(strings.Repeat(`{"type":"X"},`, maxEventsPerBatch+1), ",") + `]}`
	bad := []struct {
		name, body string
		status     int
		field      string
	}{
		{"no events", `{"events":[]}`, 422, "events"},
		{"too many events", tooMany, 422, "events"},
		{"lowercase type", `{"events":[{"type":"PARTICIPANT_JOIN"},{"type":"participant_join"}]}`, 422, "events.type"},
		{"empty type", `{"events":[{"type":""}]}`, 422, "events.type"},
		{"unknown field", `{"events":[{"type":"X","who":"Ada"}]}`, 400, ""},
		{"malformed", `{"events":[`, 400, ""},
	}
	for _, tc := range bad {
		r := b.botDo(t, http.MethodPost, botproto.PathEvents, tok, bot.ID, tc.body)
		require.Equal(t, tc.status, r.status, "%s: %s", tc.name, r.body)
		p := r.problem(t)
		if tc.field != "" {
			require.Equal(t, []string{tc.field}, p.fields(), tc.name)
		}
	}
	require.Equal(t, before, b.counts(t), "a rejected batch stores no event")
	b.requireValidated(t)
}

func TestBotStaleAttempt(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bot := b.create(t, b.acme, meetingBody(meetURL))
	oldTok := b.deploy(t, bot.ID)[0]
	b.botDo(t, http.MethodGet, botproto.PathConfig, oldTok, bot.ID, "").requireStatus(t, http.StatusOK)

	now := b.clock.Advance(time.Minute)
	retried, err := b.st.RetryAttempt(t.Context(), bot.ID, 1, now)
	require.NoError(t, err)
	require.True(t, retried)
	before := b.counts(t)

	for _, ep := range []struct{ method, path, body string }{
		{http.MethodGet, botproto.PathConfig, ""},
		{http.MethodPost, botproto.PathHeartbeat, "{}"},
		{http.MethodPost, botproto.PathStatus, `{"status":"JOINING_CALL"}`},
		{http.MethodPost, botproto.PathEvents, `{"events":[{"type":"PARTICIPANT_JOIN"}]}`},
	} {
		r := b.botDo(t, ep.method, ep.path, oldTok, bot.ID, ep.body)
		r.requireStatus(t, http.StatusConflict)
		require.Contains(t, r.problem(t).Detail, "earlier attempt", "%s %s", ep.method, ep.path)
	}
	require.Equal(t, before, b.counts(t))
	v := b.get(t, b.acme, bot.ID)
	require.Equal(t, store.StatusDeploying, v.Status, "the old attempt's report was refused")
	require.Nil(t, v.LastHeartbeatAt, "the old attempt's beat was refused")
	require.Equal(t, 2, v.Attempt)

	// The new attempt's token works.
	newTok := rand.Text()
	storetest.BeginCreate(t, b.st, bot.ID, 2, newTok, now)
	r := b.botDo(t, http.MethodGet, botproto.PathConfig, newTok, bot.ID, "")
	r.requireStatus(t, http.StatusOK)
	require.Equal(t, 2, decodeJSON[botproto.Config](t, r).Attempt)
	b.botDo(t, http.MethodPost, botproto.PathStatus, newTok, bot.ID, `{"status":"JOINING_CALL"}`).requireStatus(t, http.StatusOK)
	b.requireValidated(t)
}

// userRoutes are the /api/v1 routes Handler registers.
var userRoutes = []struct{ method, path string }{
	{http.MethodPost, "/api/v1/bots"},
	{http.MethodGet, "/api/v1/bots"},
	{http.MethodGet, "/api/v1/bots/{id}"},
	{http.MethodPatch, "/api/v1/bots/{id}"},
	{http.MethodGet, "/api/v1/bots/{id}/events"},
	{http.MethodPost, "/api/v1/bots/{id}/leave"},
	{http.MethodDelete, "/api/v1/bots/{id}"},
	{http.MethodGet, "/api/v1/bots/{id}/recording"},
	{http.MethodGet, "/api/v1/openapi.yaml"},
	{http.MethodGet, "/api/v1/pool"},
	{http.MethodGet, "/api/v1/platforms"},
}

func TestOpenAPIDocumentMatchesRoutes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	doc := loadSpec(t)
	bot := b.create(t, b.acme, meetingBody(meetURL))

	r := b.do(t, http.MethodGet, "/api/v1/openapi.yaml", "", "")
	r.requireStatus(t, http.StatusOK)
	require.Equal(t, "application/yaml", r.header.Get("Content-Type"))
	require.Equal(t, OpenAPISpec, r.body, "the embedded document is served, without an API key")
	require.Contains(t, string(r.body), "openapi: 3.0.3")

	// call answers a request to a route template, with a real bot as {id}.
	call := func(t *testing.T, method, path string) reply {
		t.Helper()
		return b.do(t, method, strings.ReplaceAll(path, "{id}", bot.ID.String()), b.acme, "")
	}
	isCatchAll := func(r reply) bool {
		return r.status == http.StatusNotFound && strings.Contains(string(r.body), `"no such endpoint"`)
	}

	// The catch-all is recognised: an undocumented route gets it.
	for _, route := range []struct{ method, path string }{
		{http.MethodPut, "/api/v1/bots"}, {http.MethodGet, "/api/v1/nothing"}, {http.MethodPut, "/api/v1/bots/{id}"},
	} {
		require.True(t, isCatchAll(call(t, route.method, route.path)), "%s %s", route.method, route.path)
	}

	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
			r := call(t, method, path)
			require.False(t, isCatchAll(r), "%s %s is documented but not served", method, path)
			require.Less(t, r.status, 500, "%s %s: %s", method, path, r.body)
		}
	}
	served := 0
	for _, route := range userRoutes {
		require.True(t, documented[route.method+" "+route.path], "%s %s is served but not documented", route.method, route.path)
		require.False(t, isCatchAll(call(t, route.method, route.path)), "%s %s", route.method, route.path)
		served++
	}
	apiOps := 0
	for op := range documented {
		if strings.Contains(op, " /api/v1/") {
			apiOps++
		}
	}
	require.Equal(t, served, apiOps, "the document lists exactly the served /api/v1 routes: %v", documented)
	b.requireValidated(t)
}

func TestPlatforms(t *testing.T) {
	t.Parallel()
	b := setup(t)
	bot := b.create(t, b.acme, meetingBody(meetURL))
	b.create(t, b.acme, meetingBody(meetURL))
	_, err := b.st.Admit(t.Context(), store.PlatformLimit{Platform: "coolify", Limit: 2}, t0)
	require.NoError(t, err)
	r := b.do(t, http.MethodGet, "/api/v1/platforms", b.acme, "")
	r.requireStatus(t, http.StatusOK)
	got := decodeJSON[PlatformsView](t, r)
	require.Equal(t, PlatformsView{QueueLength: 0, Platforms: []PlatformView{
		{Name: "coolify", Priority: 1, Limit: 2, Used: 2, Capacity: 0, LeadTimes: []leadtime.Lead{}},
		{Name: "local", Priority: 2, Limit: 5, Used: 0, Capacity: 5, LeadTimes: []leadtime.Lead{}},
	}}, got, "bot %s", bot.ID)
	b.requireValidated(t)
}
