package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// DefaultTimeout bounds one attempt when Sender.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// maxResponseBody is how much of an answer is read before the connection is
// closed: enough for any sane acknowledgement, small enough that a receiver
// streaming garbage cannot hold a worker.
const maxResponseBody = 64 << 10

// maxErrorLen bounds Result.Error, which ends up in the bot's event log.
const maxErrorLen = 200

// Sender makes single delivery attempts. The zero value is usable; a Sender
// is safe for concurrent use as long as its fields are not changed.
type Sender struct {
	// Client sends the request. When nil, a client with Timeout that does
	// not follow redirects is used. A custom client is still bounded by
	// Timeout (through the request context) but follows redirects if it
	// was built to.
	Client *http.Client
	// Secret signs each request. When empty, requests go unsigned: no
	// Meeboter-Signature header.
	Secret []byte
	// Timeout bounds one attempt, response headers and the discarded body
	// included; DefaultTimeout when zero.
	Timeout time.Duration
	// Now stamps Meeboter-Timestamp; time.Now when nil. Result.Duration is
	// measured with the real clock regardless.
	Now func() time.Time
}

// Result describes one attempt, for the bot's event log. It never holds the
// secret, the URL or either body, and Error is at most 200 characters.
type Result struct {
	StatusCode int // 0 when no response arrived
	Duration   time.Duration
	Error      string // "" on success
	// Retryable says whether another attempt could succeed: true for
	// network errors, timeouts, 408, 429 and 5xx; false for success, 3xx,
	// other 4xx (410 Gone included) and a request that cannot be built.
	Retryable bool
}

// StatusError is the error Send returns for a response that is not 2xx.
type StatusError struct {
	StatusCode int
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("webhook: receiver answered %d %s", e.StatusCode, http.StatusText(e.StatusCode))
	if e.StatusCode >= 300 && e.StatusCode < 400 {
		msg += " (redirects are not followed)"
	}
	return msg
}

// Send POSTs body, which must be an encoded Payload (its event_id becomes
// the Meeboter-Event-Id header), to rawURL once. The error is nil only for a
// 2xx response; Result says whether trying again is worthwhile. At most
// 64 KiB of the response body is read and discarded.
func (s *Sender) Send(ctx context.Context, rawURL string, body []byte) (Result, error) {
	start := time.Now()
	fail := func(res Result, err error) (Result, error) {
		res.Duration = time.Since(start)
		res.Error = truncate(err.Error(), maxErrorLen)
		return res, err
	}

	if err := checkURL(rawURL); err != nil {
		return fail(Result{}, err)
	}
	var head struct {
		EventID string `json:"event_id"`
	}
	if err := json.Unmarshal(body, &head); err != nil || head.EventID == "" {
		// Not the JSON error itself: it can quote the body.
		return fail(Result{}, errors.New("webhook: body is not a payload with an event_id"))
	}

	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	attemptCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(attemptCtx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return fail(Result{}, errors.New("webhook: cannot build request"))
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	sentAt := now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set(HeaderEventID, head.EventID)
	req.Header.Set(HeaderTimestamp, formatTimestamp(sentAt))
	if len(s.Secret) > 0 {
		req.Header.Set(HeaderSignature, Sign(s.Secret, sentAt, body))
	}

	client := s.Client
	if client == nil {
		client = &http.Client{
			Timeout: timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		return fail(Result{Retryable: true}, transportError(ctx, err, timeout))
	}
	_, _ = io.CopyN(io.Discard, resp.Body, maxResponseBody)
	_ = resp.Body.Close()

	res := Result{StatusCode: resp.StatusCode}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		res.Duration = time.Since(start)
		return res, nil
	}
	res.Retryable = retryableStatus(resp.StatusCode)
	return fail(res, &StatusError{StatusCode: resp.StatusCode})
}

// checkURL rejects what no retry can fix. Its errors leave the URL out: a
// callback URL may carry a token in its query.
func checkURL(rawURL string) error {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("webhook: callback URL is not an absolute http(s) URL")
	}
	return nil
}

// transportError describes a failed round trip without the *url.Error
// wrapper, which would quote the URL.
func transportError(parent context.Context, err error, timeout time.Duration) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	var nerr net.Error
	switch {
	case parent.Err() != nil:
		// The caller gave up (shutdown), not the receiver.
		return fmt.Errorf("webhook: attempt aborted: %w", err)
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &nerr) && nerr.Timeout():
		return fmt.Errorf("webhook: no response within %s: %w", timeout, err)
	default:
		return fmt.Errorf("webhook: %w", err)
	}
}

func retryableStatus(code int) bool {
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests:
		return true
	case code >= 500 && code < 600:
		return true
	default:
		return false
	}
}

// truncate cuts s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
