package config

import (
	"net/url"
	"time"
)

// HTTP bounds what one client may hold of the API's listener, so a slow or
// idle client cannot pin a connection (and its goroutine) for ever.
type HTTP struct {
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included: a body
	// dripped a byte at a time is cut off here.
	ReadTimeout time.Duration
	// WriteTimeout bounds a handler and the writing of its response. No
	// route streams: recordings are downloaded from S3, not through us.
	WriteTimeout time.Duration
	// IdleTimeout closes a keep-alive connection with no request.
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request line and headers (431 above).
	MaxHeaderBytes int
}

func (r *reader) http() HTTP {
	h := HTTP{
		ReadTimeout:    r.dur("HTTP_READ_TIMEOUT", 30*time.Second),
		WriteTimeout:   r.dur("HTTP_WRITE_TIMEOUT", 60*time.Second),
		IdleTimeout:    r.dur("HTTP_IDLE_TIMEOUT", 120*time.Second),
		MaxHeaderBytes: r.int("HTTP_MAX_HEADER_BYTES", 32<<10, 4<<10),
	}
	h.ReadHeaderTimeout = min(10*time.Second, h.ReadTimeout)
	return h
}

// redactURL is what a configuration error may show of a URL: its scheme and
// host only. User info, path and query can hold passwords and tokens
// (https://user:pw@…, /hooks/<token>, ?token=…), and errors reach logs.
func redactURL(v string) string {
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return "a value without scheme and host (not shown: it may hold credentials)"
	}
	shown := u.Scheme + "://" + u.Host
	if u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		shown += "/…"
	}
	return shown
}
