package ecs

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"
)

// TestStatusOf checks the mapping on the errors the SDK really returns: each
// case answers RunTask from the scripted wire and maps the error Create's
// call reported to OnRequest.
func TestStatusOf(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		answer    func(map[string]any) (int, any)
		status    int
		throttled bool
	}{
		{"success", ranTask, http.StatusOK, false},
		{"throttled", func(map[string]any) (int, any) { return apiError("ThrottlingException", "Rate exceeded", nil) },
			http.StatusBadRequest, true},
		{"too many requests", func(map[string]any) (int, any) { return apiError("TooManyRequestsException", "slow down", nil) },
			http.StatusBadRequest, true},
		{"request limit", func(map[string]any) (int, any) { return apiError("RequestLimitExceeded", "slow down", nil) },
			http.StatusBadRequest, true},
		{"client error", func(map[string]any) (int, any) { return apiError("InvalidParameterException", "no", nil) },
			http.StatusBadRequest, false},
		{"server error", func(map[string]any) (int, any) {
			return http.StatusInternalServerError, map[string]any{"__type": "ServerException", "message": "boom"}
		}, http.StatusInternalServerError, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			record, reported := recordLastError()
			b := setup(t, opts{config: record})
			b.wire.handle("RunTask", tt.answer)
			_, _ = b.Create(context.Background(), workload("meeboter-b1-1", nil))
			status, throttled := StatusOf(reported())
			require.Equal(t, tt.status, status)
			require.Equal(t, tt.throttled, throttled)
		})
	}
}

// With no response there is no status code: a transport error, or a throttle
// code that never came over HTTP.
func TestStatusOfWithoutResponse(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close() // nothing listens: every attempt fails to connect
	record, reported := recordLastError()
	p := opts{config: record}.platform(t, testClient(srv.URL, 20*time.Millisecond, nil))
	_, err := p.Create(context.Background(), workload("meeboter-b1-1", nil))
	require.Error(t, err)
	status, throttled := StatusOf(reported())
	require.Zero(t, status)
	require.False(t, throttled)

	status, throttled = StatusOf(&smithy.GenericAPIError{Code: "ThrottlingException"})
	require.Zero(t, status)
	require.True(t, throttled)

	status, throttled = StatusOf(errors.New("aws: rate limit: context deadline exceeded"))
	require.Zero(t, status)
	require.False(t, throttled)
}

// recordLastError is an opts.config whose OnRequest keeps the last reported
// error, and the reader of that error.
func recordLastError() (func(*Config), func() error) {
	var mu sync.Mutex
	var last error
	record := func(cfg *Config) {
		cfg.OnRequest = func(_ string, err error, _ time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			last = err
		}
	}
	return record, func() error {
		mu.Lock()
		defer mu.Unlock()
		return last
	}
}
