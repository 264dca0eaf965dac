// Package apitest is a small user-API client for tests that drive a whole
// controller: create bots, read them, wait for a status.
package apitest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/api"
	"github.com/meeboter/meeboter/pkg/store"
)

// Client calls the user API at URL with API key Key.
type Client struct {
	URL string
	Key string
}

// Call sends body (JSON, if not nil), decodes the answer into out (if not
// nil) and returns the status code.
func (c *Client) Call(t testing.TB, method, path string, body, out any) int {
	t.Helper()
	raw := ""
	if body != nil {
		j, err := json.Marshal(body)
		require.NoError(t, err)
		raw = string(j)
	}
	req, err := http.NewRequest(method, c.URL+path, strings.NewReader(raw))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+c.Key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if out != nil {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
	}
	return resp.StatusCode
}

// CreateBot creates a bot for meetingURL; simulate (if not nil) goes into
// metadata.simulate for the simulated bot.
func (c *Client) CreateBot(t testing.TB, meetingURL string, simulate map[string]any) api.BotView {
	t.Helper()
	var v api.BotView
	body := map[string]any{"meeting_url": meetingURL}
	if simulate != nil {
		body["metadata"] = map[string]any{"simulate": simulate}
	}
	require.Equal(t, http.StatusCreated, c.Call(t, http.MethodPost, "/api/v1/bots", body, &v))
	return v
}

// WaitStatus polls a bot until its status is one of want.
func (c *Client) WaitStatus(t testing.TB, id uuid.UUID, timeout time.Duration, want ...store.Status) api.BotView {
	t.Helper()
	var v api.BotView
	require.Eventually(t, func() bool {
		v = api.BotView{}
		c.Call(t, http.MethodGet, "/api/v1/bots/"+id.String(), nil, &v)
		for _, w := range want {
			if v.Status == w {
				return true
			}
		}
		return false
	}, timeout, 20*time.Millisecond, "bot %s never reached %v", id, want)
	return v
}
