package botproto_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/botproto"
)

const (
	testBotID = "7d8f3a52-8c1e-4f4e-9d0a-2f6a1c9b0e11"
	testToken = "s3cret-token"
)

// newServer serves h behind httptest and returns a fast-retrying client.
func newServer(t *testing.T, h http.HandlerFunc, opts ...botproto.Option) *botproto.Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	opts = append([]botproto.Option{
		botproto.WithBackoff(time.Millisecond, 5*time.Millisecond),
		botproto.WithMaxElapsed(5 * time.Second),
	}, opts...)
	return botproto.NewClient(srv.URL+"/", testBotID, testToken, opts...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeProblem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(botproto.Problem{
		Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail,
	})
}

func TestConfigSendsAuthAndDecodes(t *testing.T) {
	t.Parallel()
	leaveAt := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testToken || r.Header.Get(botproto.HeaderBotID) != testBotID {
			writeProblem(w, http.StatusUnauthorized, "bad credentials")
			return
		}
		if r.Method != http.MethodGet || r.URL.Path != botproto.PathConfig {
			writeProblem(w, http.StatusNotFound, r.Method+" "+r.URL.Path)
			return
		}
		_, _ = w.Write([]byte(`{"bot_id":"` + testBotID + `","attempt":2,"meeting_url":"https://zoom.us/j/1",
			"meeting_platform":"zoom","bot_name":"Notetaker",
			"automatic_leave":{"waiting_room_timeout_seconds":600,"noone_joined_timeout_seconds":60,
			"everyone_left_timeout_seconds":60,"inactivity_timeout_seconds":300},
			"recording":{"enabled":true,"mode":"video"},"metadata":{"simulate":{"call_seconds":0.5}},
			"heartbeat_interval_seconds":10,"leave_at":"2030-01-02T03:04:05Z","should_exit":false,"exit_reason":""}`))
	})

	cfg, err := c.Config(context.Background())
	require.NoError(t, err)
	require.Equal(t, testBotID, cfg.BotID)
	require.Equal(t, 2, cfg.Attempt)
	require.Equal(t, botproto.PlatformZoom, cfg.MeetingPlatform)
	require.Equal(t, 600, cfg.AutomaticLeave.WaitingRoomTimeoutSeconds)
	require.Equal(t, botproto.Recording{Enabled: true, Mode: botproto.RecordingVideo}, cfg.Recording)
	require.Equal(t, map[string]any{"call_seconds": 0.5}, cfg.Metadata["simulate"])
	require.Equal(t, 10*time.Second, cfg.HeartbeatInterval())
	require.NotNil(t, cfg.LeaveAt)
	require.True(t, leaveAt.Equal(*cfg.LeaveAt))
}

func TestPostEndpointsSendBodies(t *testing.T) {
	t.Parallel()
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Type") != "application/json" {
			writeProblem(w, http.StatusUnsupportedMediaType, "")
			return
		}
		switch r.URL.Path {
		case botproto.PathHeartbeat:
			var body map[string]any
			_ = json.NewDecoder(r.Body).Decode(&body)
			writeJSON(w, 200, botproto.HeartbeatResponse{ShouldLeave: len(body) == 0, Status: botproto.StatusInCall})
		case botproto.PathStatus:
			var req botproto.StatusRequest
			_ = json.NewDecoder(r.Body).Decode(&req)
			writeJSON(w, 200, botproto.StatusResponse{Status: req.Status})
		case botproto.PathEvents:
			var req botproto.EventsRequest
			_ = json.NewDecoder(r.Body).Decode(&req)
			writeJSON(w, 200, botproto.EventsResponse{Accepted: len(req.Events)})
		}
	})
	ctx := context.Background()

	hb, err := c.Heartbeat(ctx)
	require.NoError(t, err)
	require.Equal(t, botproto.HeartbeatResponse{ShouldLeave: true, Status: botproto.StatusInCall}, *hb)

	st, err := c.ReportStatus(ctx, botproto.StatusRequest{Status: botproto.StatusLeaving, Reason: "should_leave"})
	require.NoError(t, err)
	require.Equal(t, botproto.StatusLeaving, st.Status)

	ev, err := c.ReportEvents(ctx, []botproto.Event{
		{Type: botproto.EventParticipantJoin, OccurredAt: time.Now()},
		{Type: botproto.EventParticipantLeave, OccurredAt: time.Now()},
	})
	require.NoError(t, err)
	require.Equal(t, 2, ev.Accepted)
}

func TestRetriesServerErrorsThenSucceeds(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			writeProblem(w, http.StatusServiceUnavailable, "restarting")
		case 2:
			// A proxy error page: not problem+json, still retryable.
			http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
		case 3:
			writeProblem(w, http.StatusTooManyRequests, "")
		default:
			writeJSON(w, 200, botproto.HeartbeatResponse{Status: botproto.StatusInCall})
		}
	})

	hb, err := c.Heartbeat(context.Background())
	require.NoError(t, err)
	require.Equal(t, botproto.StatusInCall, hb.Status)
	require.EqualValues(t, 4, calls.Load())
}

func TestRetriesNetworkErrorsThenSucceeds(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			// Drop the connection without answering, like a dying controller.
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.Close()
			}
			return
		}
		writeJSON(w, 200, botproto.StatusResponse{Status: botproto.StatusInCall})
	})

	st, err := c.ReportStatus(context.Background(), botproto.StatusRequest{Status: botproto.StatusInCall})
	require.NoError(t, err)
	require.Equal(t, botproto.StatusInCall, st.Status)
	require.EqualValues(t, 3, calls.Load())
}

func TestClientErrorsAreFinal(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusConflict} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				writeProblem(w, status, "bot is already DONE")
			})

			_, err := c.ReportStatus(context.Background(), botproto.StatusRequest{Status: botproto.StatusInCall})
			var p *botproto.Problem
			require.ErrorAs(t, err, &p)
			require.Equal(t, status, p.Status)
			require.Equal(t, "bot is already DONE", p.Detail)
			require.True(t, botproto.IsStatus(err, status))
			require.EqualValues(t, 1, calls.Load())
			require.NotContains(t, err.Error(), testToken)
		})
	}
}

func TestMaxElapsedBoundsRetries(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	// Delays of 20-40ms against a 100ms budget allow only a handful of
	// attempts; without the bound this call would retry forever.
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		writeProblem(w, http.StatusServiceUnavailable, "")
	}, botproto.WithBackoff(40*time.Millisecond, 40*time.Millisecond), botproto.WithMaxElapsed(100*time.Millisecond))

	_, err := c.Config(context.Background())
	require.ErrorContains(t, err, "giving up")
	require.True(t, botproto.IsStatus(err, http.StatusServiceUnavailable), "err: %v", err)
	require.Greater(t, calls.Load(), int32(1))
	require.LessOrEqual(t, calls.Load(), int32(6))
}

func TestContextCancelStopsRetries(t *testing.T) {
	t.Parallel()
	c := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, http.StatusServiceUnavailable, "")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()

	_, err := c.Config(ctx)
	require.True(t, errors.Is(err, context.DeadlineExceeded), "err: %v", err)
}

func TestClientStringHidesToken(t *testing.T) {
	t.Parallel()
	c := botproto.NewClient("http://x", testBotID, testToken)
	require.NotContains(t, c.String(), testToken)
	require.Equal(t, testBotID, c.BotID())
}
