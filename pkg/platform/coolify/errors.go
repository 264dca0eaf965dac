package coolify

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/meeboter/meeboter/pkg/platform"
)

// APIError is a non-2xx answer from Coolify.
//
// A 429 APIError can also be made locally, without sending anything, when
// waiting for the client's rate limiter or for a Retry-After pause would
// outlast the context's deadline; RetryAfter then says how long to wait. Either
// way the caller's reaction is the same: snooze for RetryAfter.
type APIError struct {
	// Op is the client operation ("get_application", …), as in Config.OnRequest.
	Op         string
	StatusCode int
	// Message is Coolify's "message" (with its "error" detail appended when
	// present), or a snippet of a body that is not JSON.
	Message string
	// Fields are the per-field messages of a 422. Coolify mixes shapes
	// ({"f":["a","b"]} from the validator, {"f":"a"} from hand-written checks);
	// both decode to a list.
	Fields map[string][]string
	// RetryAfter is the server's Retry-After (seconds or HTTP date), 0 when absent.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "coolify: %s: %d %s", e.Op, e.StatusCode, e.Message)
	if len(e.Fields) > 0 {
		keys := make([]string, 0, len(e.Fields))
		for k := range e.Fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b.WriteString(" (")
		for i, k := range keys {
			if i > 0 {
				b.WriteString("; ")
			}
			fmt.Fprintf(&b, "%s: %s", k, strings.Join(e.Fields[k], " "))
		}
		b.WriteString(")")
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

// Is makes a refusal that asking again cannot change a platform.ErrPermanent:
// a 4xx other than 404 (an application deleted meanwhile), 408, 409 and 429.
func (e *APIError) Is(target error) bool {
	if target != platform.ErrPermanent {
		return false
	}
	switch e.StatusCode {
	case http.StatusNotFound, http.StatusRequestTimeout, http.StatusConflict, http.StatusTooManyRequests:
		return false
	}
	return e.StatusCode >= 400 && e.StatusCode < 500
}

// Ambiguous reports a failure after which the request may have taken
// effect: a 5xx, or no complete answer.
func Ambiguous(err error) bool {
	if err == nil {
		return false
	}
	var t *transportError
	return statusOf(err) >= 500 || errors.As(err, &t)
}

func statusOf(err error) int {
	var e *APIError
	if errors.As(err, &e) {
		return e.StatusCode
	}
	return 0
}

// IsNotFound reports a 404: the application (or deployment) does not exist,
// belongs to another team, or its asynchronous delete has finished. A delete
// that gets it can treat the application as gone.
func IsNotFound(err error) bool { return statusOf(err) == http.StatusNotFound }

// IsUnauthorized reports a 401 or 403: the token is missing, revoked, lacks
// an ability (read, write, deploy), the API is disabled or the caller's IP is
// not allowed. Retrying does not help; an operator has to act.
func IsUnauthorized(err error) bool {
	s := statusOf(err)
	return s == http.StatusUnauthorized || s == http.StatusForbidden
}

// IsConflict reports a 409 (a domain already used by another resource).
func IsConflict(err error) bool { return statusOf(err) == http.StatusConflict }

// IsValidation reports a 422; APIError.Fields says which fields were refused.
func IsValidation(err error) bool { return statusOf(err) == http.StatusUnprocessableEntity }

// IsRateLimited reports a 429, from Coolify or made locally (see APIError).
func IsRateLimited(err error) bool { return statusOf(err) == http.StatusTooManyRequests }

// IsServerError reports a 5xx. For calls that are not retried (create,
// start) the request may still have taken effect.
func IsServerError(err error) bool { return statusOf(err) >= 500 }

// RetryAfter is how long err asks the caller to wait: an APIError's
// RetryAfter, else 0.
func RetryAfter(err error) time.Duration {
	var e *APIError
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// newAPIError decodes a non-2xx answer. It never fails: whatever the body,
// the status code alone is enough for the caller to decide.
func newAPIError(op string, status int, header http.Header, body []byte, now time.Time) *APIError {
	e := &APIError{Op: op, StatusCode: status, RetryAfter: parseRetryAfter(header.Get("Retry-After"), now)}
	var b struct {
		Message json.RawMessage `json:"message"`
		Error   json.RawMessage `json:"error"`
		Errors  json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		e.Message = snippet(body) // a proxy's error page, say
	} else {
		e.Message = rawText(b.Message)
		if detail := rawText(b.Error); detail != "" {
			e.Message += " (" + detail + ")"
		}
		var fields map[string]json.RawMessage
		if json.Unmarshal(b.Errors, &fields) == nil && len(fields) > 0 {
			e.Fields = make(map[string][]string, len(fields))
			for k, v := range fields {
				e.Fields[k] = fieldMessages(v)
			}
		}
	}
	if e.Message == "" {
		e.Message = http.StatusText(status)
	}
	return e
}

// fieldMessages decodes one value of a 422 "errors" object: a string, a list
// of strings, or (defensively) anything else as its JSON text.
func fieldMessages(v json.RawMessage) []string {
	var one string
	if json.Unmarshal(v, &one) == nil {
		return []string{one}
	}
	var many []string
	if json.Unmarshal(v, &many) == nil {
		return many
	}
	return []string{string(v)}
}

// rawText is a JSON string's value, or any other JSON value's text.
func rawText(v json.RawMessage) string {
	if len(v) == 0 || string(v) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	return string(v)
}

// snippet is the start of a body that is not JSON, on one line.
func snippet(body []byte) string {
	const limit = 200
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > limit {
		s = s[:limit]
		for !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return s
}

// maxRetryAfter bounds a Retry-After we honour: a broken proxy answering
// "Retry-After: 86400" must not freeze the controller for a day.
const maxRetryAfter = 10 * time.Minute

// parseRetryAfter reads delay-seconds or an HTTP date (RFC 9110 §10.2.3).
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		d = time.Duration(min(max(secs, 0), int64(maxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}
