package webhook_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/webhook"
)

var (
	testSecret  = []byte("whsec_0123456789abcdef-test-secret")
	otherSecret = []byte("whsec_fedcba9876543210-other-secret")
)

const bodyMarker = "body-marker-7f3c"

// testBody is an encoded Payload; bodyMarker lets tests check that the body
// never leaks into a Result.
func testBody(t *testing.T) []byte {
	t.Helper()
	reason := "joined"
	body, err := json.Marshal(webhook.Payload{
		EventID:      "evt_" + strconv.FormatUint(rand.Uint64(), 36),
		Type:         webhook.TypeStatusChanged,
		BotID:        "7d8f3a52-8c1e-4f4e-9d0a-2f6a1c9b0e11",
		Status:       "IN_CALL",
		StatusReason: &reason,
		OccurredAt:   time.Now(),
		Bot:          json.RawMessage(`{"id":"7d8f3a52-8c1e-4f4e-9d0a-2f6a1c9b0e11","bot_name":"` + bodyMarker + `"}`),
	})
	require.NoError(t, err)
	return body
}

// delivery is what the receiver saw, with Verify's verdict.
type delivery struct {
	header http.Header
	body   []byte
	err    error
}

// newReceiver starts a loopback receiver that runs Verify with secret on
// every request and answers 204 when it passes, 401 otherwise.
func newReceiver(t *testing.T, secret []byte) (url string, got <-chan delivery) {
	t.Helper()
	ch := make(chan delivery, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err == nil {
			err = webhook.Verify(secret, r.Header, body, time.Now(), time.Minute)
		}
		ch <- delivery{header: r.Header.Clone(), body: body, err: err}
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, ch
}

// statusServer answers every request with the status code in its path
// ("/503" -> 503).
func statusServer(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/"))
		if err != nil {
			code = http.StatusTeapot
		}
		w.WriteHeader(code)
		// Echo what the request carried, so leaking the response body
		// into Result would also leak the secret's signature and body.
		_, _ = fmt.Fprintf(w, "%v\n", r.Header)
		_, _ = io.Copy(w, r.Body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// loopback lets the tests' receivers, on 127.0.0.1, be reached.
var loopback = webhook.Destinations{AllowNets: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}

// roundTripFunc lets a test stand in for the network where a real failure
// cannot be produced on demand.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestSignedDeliveryVerifies(t *testing.T) {
	t.Parallel()
	url, got := newReceiver(t, testSecret)
	body := testBody(t)
	sentAt := time.Now().Add(-30 * time.Second)
	s := &webhook.Sender{Destinations: loopback, Secret: testSecret, Now: func() time.Time { return sentAt }}

	res, err := s.Send(t.Context(), url, body)
	require.NoError(t, err)
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	require.Empty(t, res.Reason)
	require.False(t, res.Retryable)
	require.Positive(t, res.Duration)

	d := <-got
	require.NoError(t, d.err)
	require.Equal(t, body, d.body)
	var p webhook.Payload
	require.NoError(t, json.Unmarshal(body, &p))
	require.Equal(t, p.EventID, d.header.Get(webhook.HeaderEventID))
	require.Equal(t, strconv.FormatInt(sentAt.Unix(), 10), d.header.Get(webhook.HeaderTimestamp))
	require.Equal(t, "application/json", d.header.Get("Content-Type"))
	require.Equal(t, "meeboter-webhook/1", d.header.Get("User-Agent"))
	sig := d.header.Get(webhook.HeaderSignature)
	require.Equal(t, webhook.Sign(testSecret, sentAt, body), sig)
	require.Regexp(t, `^v1=[0-9a-f]{64}$`, sig)
}

func TestTamperedBodyFailsVerification(t *testing.T) {
	t.Parallel()
	url, got := newReceiver(t, testSecret)
	// A man in the middle: the signed request arrives with another body.
	tamper := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		body = bytes.Replace(body, []byte("IN_CALL"), []byte("DONE"), 1)
		r2 := r.Clone(r.Context())
		r2.Body = io.NopCloser(bytes.NewReader(body))
		r2.ContentLength = int64(len(body))
		return http.DefaultTransport.RoundTrip(r2)
	})
	s := &webhook.Sender{Destinations: loopback, Secret: testSecret, Client: &http.Client{Transport: tamper}}

	res, err := s.Send(t.Context(), url, testBody(t))
	d := <-got
	require.ErrorIs(t, d.err, webhook.ErrBadSignature)
	require.Contains(t, string(d.body), `"DONE"`)
	var se *webhook.StatusError
	require.ErrorAs(t, err, &se)
	require.Equal(t, http.StatusUnauthorized, se.StatusCode)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	require.False(t, res.Retryable)
}

func TestWrongSecretFailsVerification(t *testing.T) {
	t.Parallel()
	url, got := newReceiver(t, testSecret)
	s := &webhook.Sender{Destinations: loopback, Secret: otherSecret}

	res, err := s.Send(t.Context(), url, testBody(t))
	require.ErrorIs(t, (<-got).err, webhook.ErrBadSignature)
	require.Error(t, err)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
	require.False(t, res.Retryable)
}

func TestTimestampOutsideToleranceFails(t *testing.T) {
	t.Parallel()
	for name, offset := range map[string]time.Duration{
		"too old":    -2 * time.Minute,
		"from ahead": 2 * time.Minute,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			url, got := newReceiver(t, testSecret) // tolerance: one minute
			s := &webhook.Sender{Destinations: loopback, Secret: testSecret, Now: func() time.Time { return time.Now().Add(offset) }}

			res, err := s.Send(t.Context(), url, testBody(t))
			require.ErrorIs(t, (<-got).err, webhook.ErrTimestampOutOfTolerance)
			require.Error(t, err)
			require.Equal(t, http.StatusUnauthorized, res.StatusCode)
		})
	}
}

func TestNoSecretSendsUnsigned(t *testing.T) {
	t.Parallel()
	url, got := newReceiver(t, testSecret)

	res, err := (&webhook.Sender{Destinations: loopback}).Send(t.Context(), url, testBody(t))
	d := <-got
	require.ErrorIs(t, d.err, webhook.ErrNoSignature)
	require.Empty(t, d.header.Values(webhook.HeaderSignature))
	require.NotEmpty(t, d.header.Get(webhook.HeaderTimestamp))
	require.NotEmpty(t, d.header.Get(webhook.HeaderEventID))
	require.Error(t, err)
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
}

func TestVerifyAcceptsEitherSecretDuringRotation(t *testing.T) {
	t.Parallel()
	now := time.Now()
	body := testBody(t)
	oldSig, newSig := webhook.Sign(testSecret, now, body), webhook.Sign(otherSecret, now, body)
	ts := strconv.FormatInt(now.Unix(), 10)

	for name, h := range map[string]http.Header{
		"one line":      {webhook.HeaderTimestamp: {ts}, webhook.HeaderSignature: {oldSig + ", " + newSig}},
		"two lines":     {webhook.HeaderTimestamp: {ts}, webhook.HeaderSignature: {newSig, oldSig}},
		"with v0 noise": {webhook.HeaderTimestamp: {ts}, webhook.HeaderSignature: {"v0=deadbeef," + oldSig + ",v1=zz," + newSig}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			require.NoError(t, webhook.Verify(testSecret, h, body, now, time.Minute))
			require.NoError(t, webhook.Verify(otherSecret, h, body, now, time.Minute))
			require.ErrorIs(t, webhook.Verify([]byte("third"), h, body, now, time.Minute), webhook.ErrBadSignature)
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	now := time.Now()
	body := testBody(t)
	ts := strconv.FormatInt(now.Unix(), 10)
	sig := webhook.Sign(testSecret, now, body)
	header := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}

	for _, tc := range []struct {
		name   string
		secret []byte
		header http.Header
		body   []byte
		now    time.Time
		want   error
	}{
		{"no signature header", testSecret, header(webhook.HeaderTimestamp, ts), body, now, webhook.ErrNoSignature},
		{"only other schemes", testSecret, header(webhook.HeaderTimestamp, ts, webhook.HeaderSignature, "v2=abc"), body, now, webhook.ErrNoSignature},
		{"not hex", testSecret, header(webhook.HeaderTimestamp, ts, webhook.HeaderSignature, "v1=not-hex"), body, now, webhook.ErrBadSignature},
		{"uppercase v1 prefix is another scheme", testSecret, header(webhook.HeaderTimestamp, ts, webhook.HeaderSignature, "V1="+sig[3:]), body, now, webhook.ErrNoSignature},
		{"missing timestamp", testSecret, header(webhook.HeaderSignature, sig), body, now, webhook.ErrBadSignature},
		{"malformed timestamp", testSecret, header(webhook.HeaderTimestamp, "yesterday", webhook.HeaderSignature, sig), body, now, webhook.ErrBadSignature},
		{"timestamp swapped", testSecret, header(webhook.HeaderTimestamp, strconv.FormatInt(now.Unix()+1, 10), webhook.HeaderSignature, sig), body, now, webhook.ErrBadSignature},
		{"tampered body", testSecret, header(webhook.HeaderTimestamp, ts, webhook.HeaderSignature, sig), append(bytes.Clone(body), ' '), now, webhook.ErrBadSignature},
		{"empty secret", nil, header(webhook.HeaderTimestamp, ts, webhook.HeaderSignature, webhook.Sign(nil, now, body)), body, now, webhook.ErrBadSignature},
		{"just past tolerance", testSecret, header(webhook.HeaderTimestamp, ts, webhook.HeaderSignature, sig), body, time.Unix(now.Unix(), 0).Add(time.Minute + time.Second), webhook.ErrTimestampOutOfTolerance},
		{"at tolerance", testSecret, header(webhook.HeaderTimestamp, ts, webhook.HeaderSignature, sig), body, time.Unix(now.Unix(), 0).Add(time.Minute), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := webhook.Verify(tc.secret, tc.header, tc.body, tc.now, time.Minute)
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.want)
		})
	}
}

func TestVerifyDefaultTolerance(t *testing.T) {
	t.Parallel()
	sentAt := time.Unix(1_700_000_000, 0)
	body := testBody(t)
	h := http.Header{
		webhook.HeaderTimestamp: {strconv.FormatInt(sentAt.Unix(), 10)},
		webhook.HeaderSignature: {webhook.Sign(testSecret, sentAt, body)},
	}
	require.NoError(t, webhook.Verify(testSecret, h, body, sentAt.Add(webhook.DefaultTolerance), 0))
	require.ErrorIs(t, webhook.Verify(testSecret, h, body, sentAt.Add(webhook.DefaultTolerance+time.Second), 0),
		webhook.ErrTimestampOutOfTolerance)
}

func TestStatusCodes(t *testing.T) {
	t.Parallel()
	url := statusServer(t)
	for _, tc := range []struct {
		code      int
		ok        bool
		retryable bool
	}{
		{200, true, false},
		{202, true, false},
		{204, true, false},
		{400, false, false},
		{401, false, false},
		{404, false, false},
		{408, false, true},
		{410, false, false},
		{422, false, false},
		{429, false, true},
		{500, false, true},
		{502, false, true},
		{503, false, true},
	} {
		t.Run(strconv.Itoa(tc.code), func(t *testing.T) {
			t.Parallel()
			res, err := (&webhook.Sender{Destinations: loopback, Secret: testSecret}).Send(t.Context(), url+"/"+strconv.Itoa(tc.code), testBody(t))
			require.Equal(t, tc.code, res.StatusCode)
			require.Equal(t, tc.retryable, res.Retryable)
			if tc.ok {
				require.NoError(t, err)
				require.Empty(t, res.Reason)
				return
			}
			var se *webhook.StatusError
			require.ErrorAs(t, err, &se)
			require.Equal(t, tc.code, se.StatusCode)
			require.Equal(t, webhook.ReasonStatus, res.Reason)
		})
	}
}

func TestTimeoutIsRetryable(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Never answers: waits for the sender to hang up.
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first, so Close cannot hang

	timeout := 200 * time.Millisecond
	res, err := (&webhook.Sender{Destinations: loopback, Secret: testSecret, Timeout: timeout}).Send(t.Context(), srv.URL, testBody(t))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Zero(t, res.StatusCode)
	require.True(t, res.Retryable)
	require.Equal(t, webhook.ReasonTimeout, res.Reason)
	require.ErrorContains(t, err, "no response within 200ms")
	require.GreaterOrEqual(t, res.Duration, timeout)
}

func TestTimeoutAppliesToCustomClient(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })

	s := &webhook.Sender{Destinations: loopback, Client: &http.Client{}, Timeout: 200 * time.Millisecond}
	res, err := s.Send(t.Context(), srv.URL, testBody(t))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.True(t, res.Retryable)
}

func TestConnectionRefusedIsRetryable(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there any more

	res, err := (&webhook.Sender{Destinations: loopback, Secret: testSecret}).Send(t.Context(), url+"/hook?token=url-secret", testBody(t))
	require.Error(t, err)
	require.Zero(t, res.StatusCode)
	require.True(t, res.Retryable)
	require.Equal(t, webhook.ReasonConnect, res.Reason, "a code, not the network error's text")
	// The URL may carry a credential of its own; the error does not
	// quote it.
	require.NotContains(t, err.Error(), "url-secret")
}

func TestCanceledContextIsRetryable(t *testing.T) {
	t.Parallel()
	url := statusServer(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	res, err := (&webhook.Sender{Destinations: loopback}).Send(ctx, url+"/204", testBody(t))
	require.ErrorIs(t, err, context.Canceled)
	require.True(t, res.Retryable)
	require.Zero(t, res.StatusCode)
}

func TestRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	var followed atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/hook", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, _ *http.Request) {
		followed.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	res, err := (&webhook.Sender{Destinations: loopback, Secret: testSecret}).Send(t.Context(), srv.URL+"/hook", testBody(t))
	var se *webhook.StatusError
	require.ErrorAs(t, err, &se)
	require.Equal(t, http.StatusTemporaryRedirect, res.StatusCode)
	require.False(t, res.Retryable)
	require.ErrorContains(t, err, "redirects are not followed")
	require.Zero(t, followed.Load())
}

func TestResultNeverHoldsSecretOrBody(t *testing.T) {
	t.Parallel()
	url := statusServer(t) // echoes the request headers and body back
	body := testBody(t)
	sentAt := time.Now()
	s := &webhook.Sender{Destinations: loopback, Secret: testSecret, Now: func() time.Time { return sentAt }}
	sig := webhook.Sign(testSecret, sentAt, body)

	for _, path := range []string{"/204", "/400", "/500", "/302"} {
		res, err := s.Send(t.Context(), url+path, body)
		for _, text := range []string{fmt.Sprintf("%+v", res), fmt.Sprint(err)} {
			require.NotContains(t, text, string(testSecret))
			require.NotContains(t, text, hex.EncodeToString(testSecret))
			require.NotContains(t, text, sig[3:13])
			require.NotContains(t, text, bodyMarker)
			require.NotContains(t, text, webhook.HeaderSignature)
		}
	}
}

func TestResultCarriesACodeNotTheErrorText(t *testing.T) {
	t.Parallel()
	s := &webhook.Sender{Client: &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		return nil, errors.New("dial tcp 10.0.0.5:5432: connect: connection refused")
	})}}

	res, err := s.Send(t.Context(), "http://example.com/", testBody(t))
	require.ErrorContains(t, err, "connection refused", "the operator's log says what happened")
	require.True(t, res.Retryable)
	require.Equal(t, webhook.ReasonConnect, res.Reason)
	require.NotContains(t, fmt.Sprintf("%+v", res), "5432", "the tenant's event does not")
}

func TestSendRejectsWhatNoRetryFixes(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)

	for _, tc := range []struct{ name, url, body string }{
		{"relative URL", "/hook", `{"event_id":"evt_1"}`},
		{"other scheme", "ftp://127.0.0.1/hook", `{"event_id":"evt_1"}`},
		{"unparsable URL", "http://[::1", `{"event_id":"evt_1"}`},
		{"body not JSON", srv.URL, "secret " + bodyMarker},
		{"body without event_id", srv.URL, `{"type":"bot.status_changed"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, err := (&webhook.Sender{Destinations: loopback}).Send(t.Context(), tc.url, []byte(tc.body))
			require.Error(t, err)
			require.False(t, res.Retryable)
			require.Zero(t, res.StatusCode)
			require.NotEmpty(t, res.Reason)
			require.NotContains(t, err.Error(), bodyMarker)
		})
	}
	require.Zero(t, hits.Load())
}

func TestLargeResponseBodyIsCut(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A megabyte, then an answer that never ends: reading it all would
		// block Send until its timeout.
		_, _ = w.Write(bytes.Repeat([]byte("x"), 1<<20))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)

	timeout := 20 * time.Second
	res, err := (&webhook.Sender{Destinations: loopback, Timeout: timeout}).Send(t.Context(), srv.URL, testBody(t))
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Less(t, res.Duration, timeout)
}

func TestPayloadJSON(t *testing.T) {
	t.Parallel()
	paris := time.FixedZone("CET", 3600)
	p := webhook.Payload{
		EventID:    "evt_1",
		Type:       webhook.TypeStatusChanged,
		BotID:      "bot_1",
		Status:     "DONE",
		OccurredAt: time.Date(2025, 1, 2, 4, 4, 5, 123456789, paris),
		Bot:        json.RawMessage(`{"id":"bot_1","status":"DONE"}`),
	}
	b, err := json.Marshal(p)
	require.NoError(t, err)
	require.JSONEq(t, `{
		"event_id": "evt_1",
		"type": "bot.status_changed",
		"bot_id": "bot_1",
		"status": "DONE",
		"status_reason": null,
		"occurred_at": "2025-01-02T03:04:05.123456789Z",
		"bot": {"id": "bot_1", "status": "DONE"}
	}`, string(b))

	reason := "kicked"
	p.StatusReason = &reason
	b, err = json.Marshal(&p) // through a pointer too
	require.NoError(t, err)
	var back webhook.Payload
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, "kicked", *back.StatusReason)
	require.True(t, back.OccurredAt.Equal(p.OccurredAt))
	require.Equal(t, time.UTC, back.OccurredAt.Location())
	require.JSONEq(t, string(p.Bot), string(back.Bot))
}

func TestBackoffDoublesAndCaps(t *testing.T) {
	t.Parallel()
	noJitter := func() float64 { return 0.5 }
	for _, tc := range []struct {
		n         int
		base, max time.Duration
		want      time.Duration
	}{
		{1, 0, 0, 10 * time.Second},
		{2, 0, 0, 20 * time.Second},
		{3, 0, 0, 40 * time.Second},
		{9, 0, 0, 2560 * time.Second},
		{10, 0, 0, time.Hour},
		{1000, 0, 0, time.Hour},
		{0, 0, 0, 10 * time.Second},
		{-3, 0, 0, 10 * time.Second},
		{1, time.Second, 5 * time.Second, time.Second},
		{3, time.Second, 5 * time.Second, 4 * time.Second},
		{4, time.Second, 5 * time.Second, 5 * time.Second},
		{1, time.Minute, time.Second, time.Second},
		{100, time.Second, time.Duration(1<<63 - 1), time.Duration(1<<63 - 1)},
	} {
		require.Equal(t, tc.want, webhook.Backoff(tc.n, tc.base, tc.max, noJitter), "n=%d base=%s max=%s", tc.n, tc.base, tc.max)
	}
}

func TestBackoffJitterStaysWithin20Percent(t *testing.T) {
	t.Parallel()
	require.Equal(t, 32*time.Second, webhook.Backoff(3, 0, 0, func() float64 { return 0 }))
	almostOne := func() float64 { return 0.999999 }
	require.Less(t, webhook.Backoff(3, 0, 0, almostOne), 48*time.Second)
	require.Greater(t, webhook.Backoff(3, 0, 0, almostOne), 47*time.Second)
	// A broken source gets no jitter rather than an unbounded one.
	require.Equal(t, 40*time.Second, webhook.Backoff(3, 0, 0, func() float64 { return 7 }))

	rnd := rand.New(rand.NewPCG(1, 2)).Float64
	var below, above bool
	for n := 1; n <= 12; n++ {
		nominal := webhook.Backoff(n, 0, 0, func() float64 { return 0.5 })
		for range 200 {
			d := webhook.Backoff(n, 0, 0, rnd)
			require.GreaterOrEqual(t, d, nominal*8/10)
			require.Less(t, d, nominal*12/10)
			below = below || d < nominal
			above = above || d > nominal
		}
	}
	require.True(t, below && above, "jitter should spread both ways")

	for range 100 { // the default source, too
		d := webhook.Backoff(1, 0, 0, nil)
		require.GreaterOrEqual(t, d, 8*time.Second)
		require.Less(t, d, 12*time.Second)
	}
}

func TestGiveUpAtWindowEdge(t *testing.T) {
	t.Parallel()
	first := time.Date(2025, 1, 2, 3, 0, 0, 0, time.UTC)
	now := first.Add(23 * time.Hour)

	require.False(t, webhook.GiveUp(first, now, time.Hour, 0), "ending exactly at the window's end is still inside")
	require.True(t, webhook.GiveUp(first, now, time.Hour+time.Nanosecond, 0))
	require.False(t, webhook.GiveUp(first, first.Add(time.Minute), 10*time.Second, 0))
	require.True(t, webhook.GiveUp(first, first.Add(25*time.Hour), 0, 0), "already past the window")
	require.False(t, webhook.GiveUp(first, first.Add(time.Minute), time.Minute, 2*time.Minute))
	require.True(t, webhook.GiveUp(first, first.Add(time.Minute), time.Minute+time.Second, 2*time.Minute))
}
