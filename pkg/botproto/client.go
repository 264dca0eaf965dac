package botproto

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"mime"
	"net/http"
	"strings"
	"time"
)

// Retry defaults. The max elapsed time is generous because a controller
// restart (deploy, crash loop) should not kill every running bot.
const (
	DefaultBackoffBase = 200 * time.Millisecond
	DefaultBackoffCap  = 5 * time.Second
	DefaultMaxElapsed  = 2 * time.Minute
	// DefaultRequestTimeout bounds one attempt of the default HTTP client,
	// so a hung connection cannot eat the whole retry budget.
	DefaultRequestTimeout = 30 * time.Second
)

// maxBody bounds how much of a response is read; answers are tiny.
const maxBody = 1 << 20

// Option customises a Client.
type Option func(*Client)

// WithHTTPClient replaces the default HTTP client (DefaultRequestTimeout).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithBackoff sets the first retry delay and the cap on any single delay.
func WithBackoff(base, maxDelay time.Duration) Option {
	return func(c *Client) { c.backoffBase, c.backoffCap = base, maxDelay }
}

// WithMaxElapsed bounds the total time a call spends retrying. A retry
// whose delay would cross the bound is not attempted.
func WithMaxElapsed(d time.Duration) Option { return func(c *Client) { c.maxElapsed = d } }

// Client talks to the controller on behalf of one bot attempt. It is safe
// for concurrent use (heartbeats run alongside status reports).
type Client struct {
	baseURL string
	botID   string
	token   string
	// idHeader and idValue name who the token belongs to: HeaderBotID for
	// a bot attempt, HeaderPoolSlot for a SlotClient.
	idHeader    string
	idValue     string
	http        *http.Client
	backoffBase time.Duration
	backoffCap  time.Duration
	maxElapsed  time.Duration
}

// NewClient returns a client for the controller at baseURL (scheme and
// host, e.g. "http://127.0.0.1:8080"), authenticating as botID with token.
func NewClient(baseURL, botID, token string, opts ...Option) *Client {
	c := &Client{
		baseURL:     strings.TrimRight(baseURL, "/"),
		botID:       botID,
		token:       token,
		idHeader:    HeaderBotID,
		idValue:     botID,
		http:        &http.Client{Timeout: DefaultRequestTimeout},
		backoffBase: DefaultBackoffBase,
		backoffCap:  DefaultBackoffCap,
		maxElapsed:  DefaultMaxElapsed,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// BotID returns the bot id the client authenticates as.
func (c *Client) BotID() string { return c.botID }

// String keeps the token out of logs that format the client with %v.
func (c *Client) String() string {
	return fmt.Sprintf("botproto.Client{url=%s bot=%s}", c.baseURL, c.botID)
}

// Config fetches this attempt's configuration.
func (c *Client) Config(ctx context.Context) (*Config, error) {
	var out Config
	if err := c.do(ctx, http.MethodGet, PathConfig, nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Heartbeat tells the controller the bot is alive.
func (c *Client) Heartbeat(ctx context.Context) (*HeartbeatResponse, error) {
	var out HeartbeatResponse
	if err := c.do(ctx, http.MethodPost, PathHeartbeat, struct{}{}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ReportStatus reports a lifecycle transition. A refused transition comes
// back as a *Problem with Status 409 and is never retried.
func (c *Client) ReportStatus(ctx context.Context, req StatusRequest) (*StatusResponse, error) {
	var out StatusResponse
	if err := c.do(ctx, http.MethodPost, PathStatus, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ReportEvents sends meeting events in one batch.
func (c *Client) ReportEvents(ctx context.Context, events []Event) (*EventsResponse, error) {
	var out EventsResponse
	if err := c.do(ctx, http.MethodPost, PathEvents, EventsRequest{Events: events}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RecordingUpload asks for this attempt's presigned upload URL.
func (c *Client) RecordingUpload(ctx context.Context, req RecordingRequest) (*RecordingUpload, error) {
	var out RecordingUpload
	if err := c.do(ctx, http.MethodPost, PathRecording, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// RecordingComplete has the controller verify the uploaded object; only
// then may the bot report DONE.
func (c *Client) RecordingComplete(ctx context.Context, key string) (*RecordingStored, error) {
	var out RecordingStored
	if err := c.do(ctx, http.MethodPost, PathRecordingComplete, RecordingComplete{Key: key}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// do performs one logical call, retrying temporary failures. in is
// marshalled once so every attempt sends identical bytes.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("botproto: %s %s: encode: %w", method, path, err)
		}
	}
	start := time.Now()
	for attempt := 0; ; attempt++ {
		retry, err := c.once(ctx, method, path, body, out)
		switch {
		case err == nil:
			return nil
		case !retry:
			return fmt.Errorf("botproto: %s %s: %w", method, path, err)
		case ctx.Err() != nil:
			return fmt.Errorf("botproto: %s %s: %w", method, path, withCtxErr(ctx, err))
		}
		delay := c.backoff(attempt)
		if time.Since(start)+delay > c.maxElapsed {
			return fmt.Errorf("botproto: %s %s: giving up after %d attempts: %w", method, path, attempt+1, err)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("botproto: %s %s: %w", method, path, withCtxErr(ctx, err))
		case <-t.C:
		}
	}
}

// withCtxErr makes a call cut short by ctx match ctx.Err() with errors.Is,
// while keeping the last attempt's error (e.g. a 503 *Problem) reachable.
func withCtxErr(ctx context.Context, last error) error {
	if errors.Is(last, ctx.Err()) {
		return last
	}
	return fmt.Errorf("%w (last error: %w)", ctx.Err(), last)
}

// once performs a single attempt and says whether its failure is worth
// retrying.
func (c *Client) once(ctx context.Context, method, path string, body []byte, out any) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, method, c.baseURL+path, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set(c.idHeader, c.idValue)
	req.Header.Set("Accept", "application/json, application/problem+json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return true, err // transport error: the controller may be restarting
	}
	defer func() {
		// Drain so the keep-alive connection can be reused by the retry.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
		_ = resp.Body.Close()
	}()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		p := readProblem(resp)
		temporary := p.Temporary()
		return temporary, p
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(out); err != nil {
		return false, fmt.Errorf("decode %d response: %w", resp.StatusCode, err)
	}
	return false, nil
}

// readProblem turns any non-2xx answer into a *Problem, even when a proxy
// in between answered with something that is not problem+json.
func readProblem(resp *http.Response) *Problem {
	p := &Problem{}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if ct == "application/problem+json" || ct == "application/json" {
		_ = json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(p)
	}
	// The HTTP status is authoritative; a body claiming otherwise must not
	// turn a final error into a retryable one or vice versa.
	p.Status = resp.StatusCode
	if p.Type == "" {
		p.Type = "about:blank"
	}
	if p.Title == "" {
		p.Title = http.StatusText(resp.StatusCode)
	}
	return p
}

// backoff returns the delay before retry number attempt+1: exponential,
// capped, with "equal jitter" so a fleet of bots reconnecting after a
// controller restart does not retry in lockstep.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.backoffCap
	if attempt < 32 {
		if b := c.backoffBase << attempt; b > 0 && b < d {
			d = b
		}
	}
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

// IsStatus reports whether err carries a *Problem with the given HTTP status.
func IsStatus(err error, status int) bool {
	var p *Problem
	return errors.As(err, &p) && p.Status == status
}
