package api

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/uuid"
	"go.uber.org/zap"
)

type ctxKey int

const requestIDKey ctxKey = 0

// RequestIDHeader answers every request with the id its log lines carry,
// so a user reporting a 500 points at its log line. A client's own id is
// not taken: it would let anyone forge or collide ids in our logs.
const RequestIDHeader = "X-Request-Id"

// withRequestID gives each request an id. It wraps everything else: the
// request it passes on is the one the mux fills r.Pattern into, which the
// inner middlewares read.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := uuid.NewString()
		w.Header().Set(RequestIDHeader, id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey, id)))
	})
}

func requestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// wroteRecorder tells whether the response has begun: after that a 500 can
// no longer be sent.
type wroteRecorder struct {
	http.ResponseWriter
	wrote bool
}

func (w *wroteRecorder) WriteHeader(code int) {
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *wroteRecorder) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *wroteRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// recoverPanics turns a handler's panic into a 500 problem, an error log
// line with the request id and stack, and a count in
// meeboter_http_panics_total. Without it net/http drops the connection and
// logs to stderr, outside our logs and metrics.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &wroteRecorder{ResponseWriter: w}
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(v) // a deliberate abort, not a bug
			}
			id := requestID(r.Context())
			route := cmp.Or(r.Pattern, "unmatched")
			s.Metrics.HTTPPanic(route)
			s.Logger.Error("handler panicked", zap.String("request_id", id), zap.String("method", r.Method),
				zap.String("route", route), zap.String("panic", fmt.Sprint(v)), zap.StackSkip("stack", 1))
			if rec.wrote {
				// Half a response must not look whole: abort the connection.
				panic(http.ErrAbortHandler)
			}
			writeProblem(rec, http.StatusInternalServerError, "internal error; request id "+id)
		}()
		next.ServeHTTP(rec, r)
	})
}
