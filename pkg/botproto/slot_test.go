package botproto_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/botproto"
)

const (
	testSlotUUID  = "5f0c2a8e-1b7d-4e0a-9c3f-6d2e8b1a4c77"
	testSlotToken = "slot-s3cret"
)

// newSlotServer serves h behind httptest and returns a fast-retrying
// slot client.
func newSlotServer(t *testing.T, h http.HandlerFunc) *botproto.SlotClient {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return botproto.NewSlotClient(srv.URL+"/", testSlotUUID, testSlotToken,
		botproto.WithBackoff(time.Millisecond, 5*time.Millisecond), botproto.WithMaxElapsed(5*time.Second))
}

func TestAssignmentSendsSlotAuthAndDecodes(t *testing.T) {
	t.Parallel()
	c := newSlotServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Header.Get("Authorization") != "Bearer "+testSlotToken || r.Header.Get(botproto.HeaderPoolSlot) != testSlotUUID:
			writeProblem(w, http.StatusUnauthorized, "bad slot credentials")
		case r.Header.Get(botproto.HeaderBotID) != "":
			writeProblem(w, http.StatusBadRequest, "a slot has no bot id")
		case r.Method != http.MethodGet || r.URL.Path != botproto.PathAssignment:
			writeProblem(w, http.StatusNotFound, r.Method+" "+r.URL.Path)
		default:
			_, _ = w.Write([]byte(`{"assigned":true,"bot_id":"` + testBotID + `","token":"` + testToken + `",
				"config":{"bot_id":"` + testBotID + `","attempt":3,"meeting_platform":"zoom","heartbeat_interval_seconds":10,
				"should_exit":false,"exit_reason":""}}`))
		}
	})

	a, err := c.Assignment(context.Background())
	require.NoError(t, err)
	require.True(t, a.Assigned)
	require.Equal(t, testBotID, a.BotID)
	require.Equal(t, testToken, a.Token)
	require.NotNil(t, a.Config)
	require.Equal(t, 3, a.Config.Attempt)
	require.Equal(t, 7*time.Second, a.RetryAfter(7*time.Second))
	require.Equal(t, testSlotUUID, c.SlotUUID())
}

func TestAssignmentIdle(t *testing.T) {
	t.Parallel()
	c := newSlotServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"assigned": false, "retry_after_seconds": 12})
	})

	a, err := c.Assignment(context.Background())
	require.NoError(t, err)
	require.False(t, a.Assigned)
	require.Nil(t, a.Config)
	require.Equal(t, 12*time.Second, a.RetryAfter(5*time.Second))
}

func TestAssignmentRetriesLikeClient(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	c := newSlotServer(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			writeProblem(w, http.StatusServiceUnavailable, "restarting")
			return
		}
		writeJSON(w, 200, botproto.Assignment{})
	})

	a, err := c.Assignment(context.Background())
	require.NoError(t, err)
	require.False(t, a.Assigned)
	require.EqualValues(t, 3, calls.Load())
}

func TestAssignmentAuthErrorsAreFinal(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusUnauthorized, http.StatusForbidden} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			c := newSlotServer(t, func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				writeProblem(w, status, "")
			})

			_, err := c.Assignment(context.Background())
			require.True(t, botproto.IsStatus(err, status), "err: %v", err)
			require.EqualValues(t, 1, calls.Load())
			require.NotContains(t, err.Error(), testSlotToken)
		})
	}
}

func TestAssignmentWithoutTokenIsAnError(t *testing.T) {
	t.Parallel()
	c := newSlotServer(t, func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, botproto.Assignment{Assigned: true, BotID: testBotID})
	})

	_, err := c.Assignment(context.Background())
	require.ErrorContains(t, err, "without bot_id or token")
}

func TestBotClientUsesAttemptCredentials(t *testing.T) {
	t.Parallel()
	var got http.Header
	c := newSlotServer(t, func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		writeJSON(w, 200, botproto.HeartbeatResponse{Status: botproto.StatusInCall})
	})

	bc := c.BotClient(testBotID, testToken)
	_, err := bc.Heartbeat(context.Background())
	require.NoError(t, err)
	require.Equal(t, "Bearer "+testToken, got.Get("Authorization"))
	require.Equal(t, testBotID, got.Get(botproto.HeaderBotID))
	require.Empty(t, got.Get(botproto.HeaderPoolSlot))
	require.Equal(t, testBotID, bc.BotID())
}

func TestSlotClientStringHidesToken(t *testing.T) {
	t.Parallel()
	c := botproto.NewSlotClient("http://x", testSlotUUID, testSlotToken)
	require.NotContains(t, c.String(), testSlotToken)
	require.NotContains(t, fmt.Sprintf("%v %+v", c, c), testSlotToken)
}

func TestSlotClientFromEnv(t *testing.T) {
	t.Parallel()
	c, err := botproto.SlotClientFromEnv(envFunc(map[string]string{
		botproto.EnvCallbackURL:   "http://127.0.0.1:8080",
		botproto.EnvPoolSlotUUID:  testSlotUUID,
		botproto.EnvPoolSlotToken: testSlotToken,
	}))
	require.NoError(t, err)
	require.Equal(t, testSlotUUID, c.SlotUUID())

	_, err = botproto.SlotClientFromEnv(envFunc(map[string]string{botproto.EnvPoolSlotUUID: testSlotUUID}))
	require.ErrorContains(t, err, botproto.EnvCallbackURL)
	require.ErrorContains(t, err, botproto.EnvPoolSlotToken)
	require.NotContains(t, err.Error(), botproto.EnvPoolSlotUUID)

	_, err = botproto.SlotClientFromEnv(envFunc(map[string]string{
		botproto.EnvCallbackURL:   "ftp://x",
		botproto.EnvPoolSlotUUID:  testSlotUUID,
		botproto.EnvPoolSlotToken: testSlotToken,
	}))
	require.ErrorContains(t, err, botproto.EnvCallbackURL)
	require.NotContains(t, err.Error(), testSlotToken)
}
