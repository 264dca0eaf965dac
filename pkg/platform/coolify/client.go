package coolify

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
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults for Config's zero values.
const (
	// DefaultRatePerMinute stays under Coolify's default throttle of 200
	// requests a minute per user, leaving room for people using the same
	// account in the UI or another tool.
	DefaultRatePerMinute = 150
	DefaultBurst         = 10
	DefaultMaxRetries    = 3
	// DefaultTimeout bounds one attempt of the default HTTP client.
	DefaultTimeout = 30 * time.Second
)

const (
	backoffBase = 500 * time.Millisecond
	backoffCap  = 15 * time.Second
	// maxBody bounds a 2xx body: GET /applications has no pagination and
	// returns every application of the team.
	maxBody = 32 << 20
	// maxErrorBody bounds an error body; Coolify's are tiny.
	maxErrorBody = 64 << 10
)

// Config configures a Client.
type Config struct {
	// BaseURL is the API root, e.g. "https://coolify.example.com/api/v1". A
	// bare host ("https://coolify.example.com") gets /api/v1 appended.
	BaseURL string
	// Token is a Coolify API token ("<id>|<secret>", sent as displayed) with
	// the read, write and deploy abilities (or root). It never appears in
	// errors or in the client's String.
	Token string
	// RatePerMinute is the client's request budget (COOLIFY_RATE_LIMIT);
	// default DefaultRatePerMinute. Every attempt, retries included, spends
	// from it.
	RatePerMinute int
	// Burst is how many requests may go at once after a quiet spell; default
	// DefaultBurst.
	Burst int
	// Limiter, when set, replaces RatePerMinute and Burst; for sharing one
	// bucket between clients of the same Coolify user, and for tests.
	Limiter *rate.Limiter
	// MaxRetries is how many times a call is retried after a 429, a 5xx or a
	// transport error (the latter two only for calls safe to repeat);
	// default DefaultMaxRetries, negative for none.
	MaxRetries int
	// HTTPClient sends the requests; default: DefaultTimeout per attempt and
	// no redirects followed.
	HTTPClient *http.Client
	// OnRequest, when set, is called after every attempt with the operation
	// name (see Client), the HTTP status (0 for a transport error) and the
	// attempt's duration. Locally made errors (see APIError) are not reported.
	OnRequest func(op string, status int, d time.Duration)
}

// String describes the configuration without its token.
func (c Config) String() string {
	return fmt.Sprintf("coolify.Config{BaseURL:%s Token:[redacted] RatePerMinute:%d Burst:%d MaxRetries:%d}",
		c.BaseURL, c.RatePerMinute, c.Burst, c.MaxRetries)
}

// GoString keeps the token out of %#v too.
func (c Config) GoString() string { return c.String() }

// Client calls the Coolify API v1. It is safe for concurrent use; all calls
// share one token bucket, and a 429 pauses all of them for its Retry-After.
//
// Operation names, as used in APIError.Op and Config.OnRequest:
// create_application, get_application, list_applications,
// update_application, delete_application, set_envs, start_application,
// stop_application, list_deployments.
type Client struct {
	base       string // ends with /api/v1, no trailing slash
	token      string
	http       *http.Client
	limiter    *rate.Limiter
	maxRetries int
	onRequest  func(op string, status int, d time.Duration)

	// now and sleep are the client's clock; tests replace them so rate
	// limiting, Retry-After and backoff are checked without waiting.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error

	mu sync.Mutex
	// pausedUntil is when the last 429's Retry-After ends. Every call waits
	// for it before taking a token, so one 429 backs off the whole client
	// instead of each caller discovering the limit on its own.
	pausedUntil time.Time
}

// NewClient checks cfg and returns a client. It does not contact Coolify.
func NewClient(cfg Config) (*Client, error) {
	base, err := apiBase(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if cfg.Token == "" {
		return nil, errors.New("coolify: Config.Token is empty")
	}
	if cfg.RatePerMinute < 0 || cfg.Burst < 0 {
		return nil, errors.New("coolify: Config.RatePerMinute and Config.Burst must not be negative")
	}
	c := &Client{
		base:       base,
		token:      cfg.Token,
		http:       cfg.HTTPClient,
		limiter:    cfg.Limiter,
		maxRetries: cfg.MaxRetries,
		onRequest:  cfg.OnRequest,
		now:        time.Now,
		sleep:      sleepCtx,
	}
	if c.http == nil {
		c.http = &http.Client{
			Timeout: DefaultTimeout,
			// A redirect means a wrong BaseURL (http->https, the UI's login
			// page). Following it would turn a POST into a GET and may drop
			// the Authorization header; report it instead.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if c.limiter == nil {
		perMinute, burst := cfg.RatePerMinute, cfg.Burst
		if perMinute == 0 {
			perMinute = DefaultRatePerMinute
		}
		if burst == 0 {
			burst = DefaultBurst
		}
		c.limiter = rate.NewLimiter(rate.Limit(float64(perMinute)/60), burst)
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = DefaultMaxRetries
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	return c, nil
}

// apiBase normalises Config.BaseURL to an absolute URL ending in /api/v1.
func apiBase(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("coolify: Config.BaseURL %q is not an http(s) URL", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("coolify: Config.BaseURL %q has a query or fragment", raw)
	}
	p := strings.TrimRight(u.Path, "/")
	switch {
	case p == "":
		p = "/api/v1"
	case !strings.HasSuffix(p, "/api/v1"):
		return "", fmt.Errorf("coolify: Config.BaseURL %q must end with /api/v1", raw)
	}
	u.Path, u.RawPath = p, ""
	return u.String(), nil
}

// String describes the client without its token.
func (c *Client) String() string { return "coolify.Client{" + c.base + "}" }

// GoString keeps the token out of %#v too.
func (c *Client) GoString() string { return c.String() }

// call is one API operation.
type call struct {
	op     string
	method string
	path   string // below the base URL; path parameters already escaped
	query  url.Values
	body   any // JSON-encoded when non-nil
	out    any // a 2xx body is decoded into it when non-nil
	// idempotent says doing the call twice is harmless, so it is retried
	// after a 5xx or a transport error, when the first attempt may or may not
	// have taken effect. A 429 is retried regardless: Coolify's throttle
	// answers before the request reaches any controller, so nothing happened.
	idempotent bool
}

// do runs cl with rate limiting and retries. The body is encoded once so every
// attempt sends the same bytes.
func (c *Client) do(ctx context.Context, cl call) error {
	var payload []byte
	if cl.body != nil {
		var err error
		if payload, err = json.Marshal(cl.body); err != nil {
			return fmt.Errorf("coolify: %s: encode request: %w", cl.op, err)
		}
	}
	for attempt := 0; ; attempt++ {
		if err := c.waitTurn(ctx, cl.op); err != nil {
			return err
		}
		err := c.attempt(ctx, cl, payload)
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusTooManyRequests {
			// Pause the whole client, retried or not: other calls would only
			// collect more 429s. The next waitTurn waits the pause out.
			pause := apiErr.RetryAfter
			if pause == 0 {
				pause = backoff(attempt)
			}
			c.pause(pause)
		}
		if err == nil || attempt >= c.maxRetries || ctx.Err() != nil {
			return err
		}
		switch {
		case apiErr != nil && apiErr.StatusCode == http.StatusTooManyRequests:
			// Retried for every call (see call.idempotent), unless the
			// pause outlasts ctx: then Coolify's own answer says most.
			if !fitsDeadline(ctx, apiErr.RetryAfter) {
				return err
			}
		case !cl.idempotent:
			return err
		case apiErr != nil && apiErr.StatusCode >= 500:
			if !c.sleepWithin(ctx, max(backoff(attempt), apiErr.RetryAfter)) {
				return err
			}
		case apiErr == nil && errors.As(err, new(*transportError)):
			if !c.sleepWithin(ctx, backoff(attempt)) {
				return err
			}
		default:
			return err // any other 4xx, an undecodable 2xx
		}
	}
}

// attempt sends one request. Errors are *APIError (non-2xx), *transportError
// (nothing or no complete answer came back), or a decode error.
func (c *Client) attempt(ctx context.Context, cl call, payload []byte) error {
	u := c.base + cl.path
	if len(cl.query) > 0 {
		u += "?" + cl.query.Encode()
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, u, body)
	if err != nil {
		return fmt.Errorf("coolify: %s: %w", cl.op, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	// Without it Laravel answers throttling, validation and server errors
	// with HTML or a redirect.
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.observe(cl.op, 0, time.Since(start))
		return &transportError{op: cl.op, err: err}
	}
	defer func() {
		// Drain so the keep-alive connection is reused by the next call.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
		_ = resp.Body.Close()
	}()
	ok := resp.StatusCode >= 200 && resp.StatusCode <= 299
	limit := int64(maxErrorBody)
	if ok {
		limit = maxBody
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	c.observe(cl.op, resp.StatusCode, time.Since(start))
	if err != nil {
		return &transportError{op: cl.op, err: fmt.Errorf("read %d response: %w", resp.StatusCode, err)}
	}
	if !ok {
		apiErr := newAPIError(cl.op, resp.StatusCode, resp.Header, data, c.now())
		if loc := resp.Header.Get("Location"); loc != "" && resp.StatusCode >= 300 && resp.StatusCode <= 399 {
			apiErr.Message = "redirected to " + loc + "; is Config.BaseURL the API root (…/api/v1)?"
		}
		return apiErr
	}
	if cl.out == nil {
		return nil
	}
	if err := json.Unmarshal(data, cl.out); err != nil {
		if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt != "application/json" {
			return fmt.Errorf("coolify: %s: %d answer is %q, not JSON; is Config.BaseURL the API root (…/api/v1)?",
				cl.op, resp.StatusCode, mt)
		}
		return fmt.Errorf("coolify: %s: decode %d answer: %w", cl.op, resp.StatusCode, err)
	}
	return nil
}

func (c *Client) observe(op string, status int, d time.Duration) {
	if c.onRequest != nil {
		c.onRequest(op, status, d)
	}
}

// waitTurn waits for a Retry-After pause to end and then for a token. A
// wait that would outlast ctx's deadline fails at once with a local 429, so
// a reconcile job can snooze instead of holding a worker until it times out.
func (c *Client) waitTurn(ctx context.Context, op string) error {
	c.mu.Lock()
	paused := c.pausedUntil.Sub(c.now())
	c.mu.Unlock()
	if paused > 0 {
		if !fitsDeadline(ctx, paused) {
			return localRateLimit(op, paused, "Coolify answered 429 and its Retry-After has not passed")
		}
		if err := c.sleep(ctx, paused); err != nil {
			return fmt.Errorf("coolify: %s: %w", op, err)
		}
	}
	now := c.now()
	r := c.limiter.ReserveN(now, 1)
	if !r.OK() {
		return fmt.Errorf("coolify: %s: rate limiter has burst 0 and allows no request", op)
	}
	d := r.DelayFrom(now)
	if d <= 0 {
		return nil
	}
	if !fitsDeadline(ctx, d) {
		r.CancelAt(now)
		return localRateLimit(op, d, "the client's request budget is spent")
	}
	if err := c.sleep(ctx, d); err != nil {
		r.CancelAt(c.now())
		return fmt.Errorf("coolify: %s: %w", op, err)
	}
	return nil
}

func localRateLimit(op string, d time.Duration, why string) *APIError {
	return &APIError{Op: op, StatusCode: http.StatusTooManyRequests, Message: "not sent: " + why, RetryAfter: d}
}

// pause holds every call of the client for d from now.
func (c *Client) pause(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if until := c.now().Add(d); until.After(c.pausedUntil) {
		c.pausedUntil = until
	}
}

// sleepWithin sleeps d unless that would outlast ctx; false means give up
// (and return the last error, which says more than a deadline error would).
func (c *Client) sleepWithin(ctx context.Context, d time.Duration) bool {
	return fitsDeadline(ctx, d) && c.sleep(ctx, d) == nil
}

// fitsDeadline uses the real clock: ctx's deadline is real time.
func fitsDeadline(ctx context.Context, d time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return !ok || time.Until(deadline) > d
}

// backoff is a jittered exponential delay: half fixed, half random, so
// retries of many callers spread out but none retries immediately.
func backoff(attempt int) time.Duration {
	d := backoffCap
	if attempt < 16 {
		d = min(backoffBase<<attempt, backoffCap)
	}
	return d/2 + rand.N(d/2+1)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// transportError is a request that got no complete answer: connection
// refused or reset, timeout, a body cut short.
type transportError struct {
	op  string
	err error
}

func (e *transportError) Error() string { return "coolify: " + e.op + ": " + e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }
