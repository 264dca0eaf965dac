package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// userAPI calls the controller's user API as a customer would, riding out
// the controller's restart by retrying.
type userAPI struct {
	base, key string
	http      *http.Client
}

func newUserAPI(base, key string) *userAPI {
	return &userAPI{base: base, key: key, http: &http.Client{Timeout: 30 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}
}

// createdBot is the part of a create answer the bench reads;
// CapacityReserved is nil while the API does not say.
type createdBot struct {
	ID               string `json:"id"`
	Status           string `json:"status"`
	CapacityReserved *bool  `json:"capacity_reserved"`
}

// botState is the part of GET /api/v1/bots/{id} the bench reads;
// JoinLatenessSeconds is nil for a bot that did not enter, or while the
// API does not have the field.
type botState struct {
	ID                  string     `json:"id"`
	Status              string     `json:"status"`
	StatusReason        *string    `json:"status_reason"`
	Platform            *string    `json:"platform"`
	Attempt             int        `json:"attempt"`
	JoinAt              *time.Time `json:"join_at"`
	CreatedAt           time.Time  `json:"created_at"`
	JoinLatenessSeconds *float64   `json:"join_lateness_seconds"`
}

// event is one entry of a bot's timeline.
type event struct {
	ID         int64     `json:"id"`
	Type       string    `json:"type"`
	OccurredAt time.Time `json:"occurred_at"`
}

// create creates a bot; the idempotency key makes a retry after a lost
// answer the same bot.
func (a *userAPI) create(ctx context.Context, body map[string]any, idemKey string) (createdBot, error) {
	var out createdBot
	err := retryCall(ctx, time.Minute, func() (int, error) {
		return a.do(ctx, http.MethodPost, "/api/v1/bots", body, idemKey, &out)
	})
	return out, err
}

// bot reads one bot.
func (a *userAPI) bot(ctx context.Context, id string) (botState, error) {
	var out botState
	err := retryCall(ctx, time.Minute, func() (int, error) {
		return a.do(ctx, http.MethodGet, "/api/v1/bots/"+id, nil, "", &out)
	})
	return out, err
}

// events reads a bot's whole timeline, page by page.
func (a *userAPI) events(ctx context.Context, id string) ([]event, error) {
	const limit = 1000
	var all []event
	after := int64(0)
	for {
		var page struct {
			Events    []event `json:"events"`
			NextAfter int64   `json:"next_after"`
		}
		path := "/api/v1/bots/" + id + "/events?limit=" + strconv.Itoa(limit) + "&after=" + strconv.FormatInt(after, 10)
		if err := retryCall(ctx, time.Minute, func() (int, error) { return a.do(ctx, http.MethodGet, path, nil, "", &page) }); err != nil {
			return nil, err
		}
		all = append(all, page.Events...)
		if len(page.Events) < limit {
			return all, nil
		}
		after = page.NextAfter
	}
}

// platforms reads GET /api/v1/platforms as it is, whatever its shape.
func (a *userAPI) platforms(ctx context.Context) (json.RawMessage, error) {
	var out json.RawMessage
	_, err := a.do(ctx, http.MethodGet, "/api/v1/platforms", nil, "", &out)
	return out, err
}

// do sends one request; out is decoded from a 2xx answer.
func (a *userAPI) do(ctx context.Context, method, path string, body any, idemKey string, out any) (int, error) {
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+a.key)
	req.Header.Set("Content-Type", "application/json")
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	res, err := a.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, err
	}
	if res.StatusCode >= 300 {
		return res.StatusCode, fmt.Errorf("%s %s: %s: %s", method, path, res.Status, bytes.TrimSpace(raw))
	}
	return res.StatusCode, json.Unmarshal(raw, out)
}

// retryCall repeats call while it gets no answer, a 5xx, a 429 or a 409 (an
// idempotent create still in flight) for up to patience; another 4xx is
// final.
func retryCall(ctx context.Context, patience time.Duration, call func() (int, error)) error {
	deadline := time.Now().Add(patience)
	wait := 100 * time.Millisecond
	for {
		code, err := call()
		switch {
		case err == nil:
			return nil
		case code >= 400 && code < 500 && code != http.StatusConflict && code != http.StatusTooManyRequests:
			return err
		case time.Now().After(deadline):
			return err
		}
		if sleepCtx(ctx, wait) != nil {
			return err
		}
		wait = min(2*wait, time.Second)
	}
}
