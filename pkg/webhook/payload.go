package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// TypeStatusChanged is the only event type so far: a bot changed status.
const TypeStatusChanged = "bot.status_changed"

// Header names and fixed header values of a delivery.
const (
	HeaderEventID   = "Meeboter-Event-Id"
	HeaderTimestamp = "Meeboter-Timestamp"
	HeaderSignature = "Meeboter-Signature"
	UserAgent       = "meeboter-webhook/1"
)

// DefaultTolerance is how far Verify lets a timestamp stray from now when it
// is given no tolerance.
const DefaultTolerance = 5 * time.Minute

// signatureScheme prefixes every signature; a new scheme would get a new
// prefix so receivers can accept both during a migration.
const signatureScheme = "v1="

// Payload is the JSON body of a delivery. Its JSON tags are the public wire
// format: changing one breaks every receiver.
type Payload struct {
	EventID      string          `json:"event_id"`
	Type         string          `json:"type"`
	BotID        string          `json:"bot_id"`
	Status       string          `json:"status"`
	StatusReason *string         `json:"status_reason"`
	OccurredAt   time.Time       `json:"occurred_at"`
	Bot          json.RawMessage `json:"bot"`
}

// MarshalJSON encodes occurred_at in UTC, so receivers see one format
// whatever time zone the controller runs in.
func (p Payload) MarshalJSON() ([]byte, error) {
	type plain Payload // drops this method, avoiding recursion
	q := plain(p)
	q.OccurredAt = q.OccurredAt.UTC()
	return json.Marshal(q)
}

// Errors returned by Verify; they may be wrapped with detail, so compare
// with errors.Is.
var (
	ErrNoSignature             = errors.New("webhook: no v1 signature")
	ErrBadSignature            = errors.New("webhook: signature does not match")
	ErrTimestampOutOfTolerance = errors.New("webhook: timestamp outside tolerance")
)

// Sign returns the Meeboter-Signature value ("v1=<hex>") for body sent at
// timestamp, which is truncated to whole seconds as in Meeboter-Timestamp.
func Sign(secret []byte, timestamp time.Time, body []byte) string {
	return signatureScheme + hex.EncodeToString(mac(secret, formatTimestamp(timestamp), body))
}

func formatTimestamp(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// mac signs the timestamp header text as received, not a re-formatted
// number, so "0123" cannot verify as "123".
func mac(secret []byte, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify is what a receiver runs on a delivery: it checks that one of the
// v1= values in the Meeboter-Signature header (several comma-separated
// values, or several header lines, are allowed so a sender can sign with an
// old and a new secret during rotation) is the HMAC of the
// Meeboter-Timestamp header and body under secret, and that the timestamp is
// within tolerance of now in either direction. tolerance <= 0 means
// DefaultTolerance rather than "any age", which would allow replays.
//
// The signature is checked before the timestamp, so a forged request learns
// nothing about the clock check. An empty secret never verifies.
func Verify(secret []byte, header http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	var sigs []string
	for _, line := range header.Values(HeaderSignature) {
		for v := range strings.SplitSeq(line, ",") {
			if hexSig, ok := strings.CutPrefix(strings.TrimSpace(v), signatureScheme); ok {
				sigs = append(sigs, hexSig)
			}
		}
	}
	if len(sigs) == 0 {
		return ErrNoSignature
	}
	if len(secret) == 0 {
		return fmt.Errorf("%w: empty secret", ErrBadSignature)
	}
	ts := header.Get(HeaderTimestamp)
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: missing or malformed %s", ErrBadSignature, HeaderTimestamp)
	}
	want := mac(secret, ts, body)
	matched := false
	for _, s := range sigs {
		got, err := hex.DecodeString(s)
		// No early exit: every candidate is compared, so timing does not
		// reveal which one matched.
		if err == nil && hmac.Equal(got, want) {
			matched = true
		}
	}
	if !matched {
		return ErrBadSignature
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if skew := now.Sub(time.Unix(unix, 0)); skew > tolerance || skew < -tolerance {
		return fmt.Errorf("%w: %s off, tolerance %s", ErrTimestampOutOfTolerance, skew.Truncate(time.Second), tolerance)
	}
	return nil
}
