package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// apiClient calls the user API through the proxy, as a customer would.
type apiClient struct {
	base, key string
	http      *http.Client
}

// botView is the part of a bot (GET /api/v1/bots/{id}) the checks read.
type botView struct {
	ID                 string          `json:"id"`
	Status             string          `json:"status"`
	StatusReason       *string         `json:"status_reason"`
	Platform           *string         `json:"platform"`
	Attempt            int             `json:"attempt"`
	Metadata           json.RawMessage `json:"metadata"`
	CallbackURL        *string         `json:"callback_url"`
	JoinAt             *time.Time      `json:"join_at"`
	CreatedAt          time.Time       `json:"created_at"`
	EndedAt            *time.Time      `json:"ended_at"`
	RecordingSizeBytes *int64          `json:"recording_size_bytes"`
	Recording          struct {
		Enabled bool `json:"enabled"`
	} `json:"recording"`
}

func (b botView) reason() string {
	if b.StatusReason == nil {
		return ""
	}
	return *b.StatusReason
}

func (b botView) platform() string {
	if b.Platform == nil {
		return ""
	}
	return *b.Platform
}

// seq is the chaos sequence number in the bot's metadata (0: none).
func (b botView) seq() int {
	var m struct {
		Chaos struct {
			Seq int `json:"seq"`
		} `json:"chaos"`
	}
	_ = json.Unmarshal(b.Metadata, &m)
	return m.Chaos.Seq
}

// terminal statuses.
func terminal(status string) bool { return status == "DONE" || status == "FATAL" }

// nonTerminal are the statuses a bot passes through before DONE or FATAL.
var nonTerminal = []string{"SCHEDULED", "QUEUED", "DEPLOYING", "JOINING_CALL", "IN_WAITING_ROOM", "IN_CALL", "LEAVING"}

// errRejected is a 4xx: the request was refused and wrote nothing.
var errRejected = errors.New("rejected")

// do sends one request; out is decoded from a 2xx answer.
func (a *apiClient) do(ctx context.Context, method, path string, body any, header http.Header, out any) (int, error) {
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
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Authorization", "Bearer "+a.key)
	req.Header.Set("Content-Type", "application/json")
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
	if out != nil {
		return res.StatusCode, json.Unmarshal(raw, out)
	}
	return res.StatusCode, nil
}

// retrying repeats call while it fails with no answer, a 5xx, a 429 or a
// 409 (an idempotent create still in flight), for up to patience. A 4xx
// otherwise is errRejected.
func retrying(ctx context.Context, patience time.Duration, call func() (int, error)) error {
	deadline := time.Now().Add(patience)
	wait := 200 * time.Millisecond
	for {
		code, err := call()
		switch {
		case err == nil:
			return nil
		case code >= 400 && code < 500 && code != http.StatusConflict && code != http.StatusTooManyRequests:
			return fmt.Errorf("%w: %w", errRejected, err)
		case time.Now().After(deadline) || ctx.Err() != nil:
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// createPatience is how long a create is retried (with its idempotency
// key) through kills and the Postgres restart before it is given up.
const createPatience = 2 * time.Minute

// create creates a bot, retrying with the same Idempotency-Key; it returns
// the bot once a 201 came back.
func (a *apiClient) create(ctx context.Context, body map[string]any, key string) (botView, error) {
	var b botView
	header := http.Header{"Idempotency-Key": {key}}
	err := retrying(ctx, createPatience, func() (int, error) {
		return a.do(ctx, http.MethodPost, "/api/v1/bots", body, header, &b)
	})
	return b, err
}

// stop asks a bot to leave (graceful) or cancels it.
func (a *apiClient) stop(ctx context.Context, id string, cancel bool) error {
	method, path := http.MethodPost, "/api/v1/bots/"+id+"/leave"
	if cancel {
		method, path = http.MethodDelete, "/api/v1/bots/"+id
	}
	return retrying(ctx, time.Minute, func() (int, error) { return a.do(ctx, method, path, nil, nil, nil) })
}

// get reads one bot.
func (a *apiClient) get(ctx context.Context, id string) (botView, error) {
	var b botView
	err := retrying(ctx, 30*time.Second, func() (int, error) {
		return a.do(ctx, http.MethodGet, "/api/v1/bots/"+id, nil, nil, &b)
	})
	return b, err
}

// list reads every bot with one of statuses (all bots when none), page by
// page.
func (a *apiClient) list(ctx context.Context, statuses []string) ([]botView, error) {
	var all []botView
	cursor := ""
	for {
		q := url.Values{"limit": {"100"}}
		if len(statuses) > 0 {
			q.Set("status", strings.Join(statuses, ","))
		}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page struct {
			Bots       []botView `json:"bots"`
			NextCursor *string   `json:"next_cursor"`
		}
		err := retrying(ctx, 30*time.Second, func() (int, error) {
			return a.do(ctx, http.MethodGet, "/api/v1/bots?"+q.Encode(), nil, nil, &page)
		})
		if err != nil {
			return nil, err
		}
		all = append(all, page.Bots...)
		if page.NextCursor == nil || *page.NextCursor == "" {
			return all, nil
		}
		cursor = *page.NextCursor
	}
}
