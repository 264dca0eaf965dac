package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// DefaultTimeout bounds one attempt when Sender.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// maxResponseBody is how much of an answer is read before the connection is
// closed: enough for any sane acknowledgement, small enough that a receiver
// streaming garbage cannot hold a worker.
const maxResponseBody = 64 << 10

// Sender makes single delivery attempts. The zero value is usable; a Sender
// is safe for concurrent use as long as its fields are not changed.
type Sender struct {
	// Client sends the request. When nil, a client that does not follow
	// redirects and connects only where Destinations allows is used. A
	// custom client is still bounded by Timeout (through the request
	// context) but follows redirects and reaches whatever it was built to.
	Client *http.Client
	// Destinations are where the default client may connect: public
	// addresses, and what they allow.
	Destinations Destinations
	// Secret signs each request. When empty, requests go unsigned: no
	// Meeboter-Signature header.
	Secret []byte
	// Timeout bounds one attempt, response headers and the discarded body
	// included; DefaultTimeout when zero.
	Timeout time.Duration
	// Now stamps Meeboter-Timestamp; time.Now when nil. Result.Duration is
	// measured with the real clock regardless.
	Now func() time.Time

	once   sync.Once
	client *http.Client
}

// Result describes one attempt, for the bot's event log, which its tenant
// reads: it never holds the secret, the URL, either body or a network
// error's text (which would make deliveries a port scanner), only an
// outcome code.
type Result struct {
	StatusCode int // 0 when no response arrived
	Duration   time.Duration
	Reason     Reason // "" on success
	// Retryable says whether another attempt could succeed: true for
	// network errors, timeouts, 408, 429 and 5xx; false for success, 3xx,
	// other 4xx (410 Gone included) and a request that cannot be built.
	Retryable bool
}

// Reason says why an attempt failed.
type Reason string

// Reasons.
const (
	ReasonInvalidURL           Reason = "invalid_url"
	ReasonInvalidPayload       Reason = "invalid_payload"
	ReasonForbiddenDestination Reason = "forbidden_destination"
	ReasonDNS                  Reason = "dns_failed"
	ReasonConnect              Reason = "connection_failed"
	ReasonTLS                  Reason = "tls_failed"
	ReasonTimeout              Reason = "timeout"
	ReasonAborted              Reason = "aborted"
	ReasonStatus               Reason = "http_status" // the receiver answered, not 2xx: see StatusCode
)

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
	var secrets [][]byte
	if len(s.Secret) > 0 {
		secrets = [][]byte{s.Secret}
	}
	return s.SendSigned(ctx, rawURL, body, secrets)
}

// SendSigned is Send signed with secrets instead of Secret: every one of
// them signs (a tenant's old and new secret during a rotation's overlap),
// in both our headers and the Standard Webhooks ones. None: unsigned.
func (s *Sender) SendSigned(ctx context.Context, rawURL string, body []byte, secrets [][]byte) (Result, error) {
	start := time.Now()
	fail := func(res Result, err error) (Result, error) {
		res.Duration = time.Since(start)
		return res, err
	}

	if err := checkURL(rawURL); err != nil {
		return fail(Result{Reason: ReasonInvalidURL}, err)
	}
	var head struct {
		EventID string `json:"event_id"`
	}
	if err := json.Unmarshal(body, &head); err != nil || head.EventID == "" {
		// Not the JSON error itself: it can quote the body.
		return fail(Result{Reason: ReasonInvalidPayload}, errors.New("webhook: body is not a payload with an event_id"))
	}

	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	attemptCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(attemptCtx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return fail(Result{Reason: ReasonInvalidURL}, errors.New("webhook: cannot build request"))
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
	sign(req.Header, secrets, head.EventID, sentAt, body)

	resp, err := s.httpClient().Do(req)
	if err != nil {
		reason, err := transportError(ctx, err, timeout)
		return fail(Result{Reason: reason, Retryable: reason != ReasonForbiddenDestination}, err)
	}
	_, _ = io.CopyN(io.Discard, resp.Body, maxResponseBody)
	_ = resp.Body.Close()

	res := Result{StatusCode: resp.StatusCode}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		res.Duration = time.Since(start)
		return res, nil
	}
	res.Retryable, res.Reason = retryableStatus(resp.StatusCode), ReasonStatus
	return fail(res, &StatusError{StatusCode: resp.StatusCode})
}

// sign sets the signature headers: ours (Meeboter-Signature, v1= values
// comma-separated) and the Standard Webhooks ones (v1, values
// space-separated).
func sign(h http.Header, secrets [][]byte, id string, at time.Time, body []byte) {
	h.Set(HeaderStandardID, id)
	h.Set(HeaderStandardTimestamp, formatTimestamp(at))
	var ours, standard []string
	for _, secret := range secrets {
		ours = append(ours, Sign(secret, at, body))
		if sig, ok := signStandard(secret, id, at, body); ok {
			standard = append(standard, sig)
		}
	}
	if len(ours) > 0 {
		h.Set(HeaderSignature, strings.Join(ours, ","))
	}
	if len(standard) > 0 {
		h.Set(HeaderStandardSignature, strings.Join(standard, " "))
	}
}

// httpClient is Client, or the default one, built once so connections are
// reused across deliveries.
func (s *Sender) httpClient() *http.Client {
	if s.Client != nil {
		return s.Client
	}
	s.once.Do(func() {
		s.client = &http.Client{
			Transport: s.Destinations.Transport(),
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		}
	})
	return s.client
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

// transportError classifies a failed round trip and describes it, for the
// operator's logs, without the *url.Error wrapper, which would quote the
// URL.
func transportError(parent context.Context, err error, timeout time.Duration) (Reason, error) {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	var (
		nerr    net.Error
		dnsErr  *net.DNSError
		certErr *tls.CertificateVerificationError
		recErr  tls.RecordHeaderError
		alert   tls.AlertError
	)
	switch {
	case parent.Err() != nil:
		// The caller gave up (shutdown), not the receiver.
		return ReasonAborted, fmt.Errorf("webhook: attempt aborted: %w", err)
	case errors.Is(err, ErrForbiddenDestination):
		return ReasonForbiddenDestination, ErrForbiddenDestination
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &nerr) && nerr.Timeout():
		return ReasonTimeout, fmt.Errorf("webhook: no response within %s: %w", timeout, err)
	case errors.As(err, &dnsErr):
		return ReasonDNS, fmt.Errorf("webhook: %w", err)
	case errors.As(err, &certErr), errors.As(err, &recErr), errors.As(err, &alert):
		return ReasonTLS, fmt.Errorf("webhook: %w", err)
	default:
		return ReasonConnect, fmt.Errorf("webhook: %w", err)
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
