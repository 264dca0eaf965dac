package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/stretchr/testify/require"
)

var specCache struct {
	once sync.Once
	doc  *openapi3.T
	err  error
}

// loadSpec loads and validates the embedded OpenAPI document, once per test
// binary. The returned document is shared: do not mutate it.
func loadSpec(t testing.TB) *openapi3.T {
	t.Helper()
	specCache.once.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(OpenAPISpec)
		if err != nil {
			specCache.err = fmt.Errorf("load openapi.yaml: %w", err)
			return
		}
		if err := doc.Validate(loader.Context); err != nil {
			specCache.err = fmt.Errorf("validate openapi.yaml: %w", err)
			return
		}
		specCache.doc = doc
	})
	require.NoError(t, specCache.err)
	return specCache.doc
}

// newSpecRouter returns a router that finds the spec's operation of a request.
func newSpecRouter(t testing.TB) routers.Router {
	t.Helper()
	router, err := legacy.NewRouter(loadSpec(t))
	require.NoError(t, err)
	return router
}

// errorReporter is the part of testing.TB the validating transport reports
// mismatches through; a fake lets the transport's own tests observe them.
type errorReporter interface {
	Helper()
	Errorf(format string, args ...any)
}

// validatingTransport checks every user-API response that passes through it
// against the OpenAPI document: status (it must be documented), headers and
// body. Requests are not validated, so tests may send deliberately bad ones.
type validatingTransport struct {
	t      errorReporter
	base   http.RoundTripper
	router routers.Router
	// validated counts the responses checked against the document.
	validated atomic.Int64
}

// newValidatingTransport wraps base (http.DefaultTransport when nil).
func newValidatingTransport(t testing.TB, r errorReporter, base http.RoundTripper) *validatingTransport {
	t.Helper()
	if base == nil {
		base = http.DefaultTransport
	}
	return &validatingTransport{t: r, base: base, router: newSpecRouter(t)}
}

// newValidatingClient returns a client whose responses from /api/v1/* are
// checked against the OpenAPI document; mismatches fail t.
func newValidatingClient(t testing.TB) (*http.Client, *validatingTransport) {
	t.Helper()
	vt := newValidatingTransport(t, t, nil)
	return &http.Client{Transport: vt}, vt
}

// Validated is how many responses were checked against the document.
func (vt *validatingTransport) Validated() int64 { return vt.validated.Load() }

func (vt *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := vt.base.RoundTrip(req)
	if err != nil || !validatedPath(req.URL.Path) {
		return resp, err
	}
	body, rerr := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if rerr != nil {
		return resp, rerr
	}
	vt.check(req, resp, body)
	return resp, nil
}

func validatedPath(p string) bool {
	return strings.HasPrefix(p, "/api/v1/") && p != "/api/v1/openapi.yaml"
}

func (vt *validatingTransport) check(req *http.Request, resp *http.Response, body []byte) {
	vt.t.Helper()
	route, pathParams, err := vt.router.FindRoute(req)
	if err != nil {
		var re *routers.RouteError
		if errors.As(err, &re) && (resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed) {
			return // an undocumented path or method, answered as such
		}
		vt.t.Errorf("openapi: %s %s -> %d: no operation in openapi.yaml: %v", req.Method, req.URL.Path, resp.StatusCode, err)
		return
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    req,
			PathParams: pathParams,
			Route:      route,
			Options: &openapi3filter.Options{
				AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
				ExcludeRequestBody: true,
			},
		},
		Status:  resp.StatusCode,
		Header:  resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	input.SetBodyBytes(body)
	vt.validated.Add(1)
	if err := openapi3filter.ValidateResponse(context.Background(), input); err != nil {
		vt.t.Errorf("openapi: %s %s -> %d does not match openapi.yaml: %v\nbody: %s",
			req.Method, req.URL.Path, resp.StatusCode, err, truncate(body, 2048))
	}
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "..."
	}
	return string(b)
}

func TestOpenAPISpecIsValid(t *testing.T) {
	t.Parallel()
	doc := loadSpec(t)
	require.Equal(t, "3.0.3", doc.OpenAPI)
	for _, p := range []string{"/api/v1/bots", "/api/v1/bots/{id}", "/api/v1/bots/{id}/events",
		"/api/v1/bots/{id}/leave", "/api/v1/openapi.yaml", "/healthz", "/readyz"} {
		require.NotNil(t, doc.Paths.Value(p), p)
	}
	for _, p := range doc.Paths.InMatchingOrder() {
		require.False(t, strings.HasPrefix(p, "/bot/"), "the bot API is documented in pkg/botproto: %s", p)
	}
	newSpecRouter(t)
}

// fakeReporter records what the transport reports.
type fakeReporter struct {
	mu   sync.Mutex
	errs []string
}

func (f *fakeReporter) Helper() {}

func (f *fakeReporter) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

func (f *fakeReporter) errors() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.errs...)
}

func TestValidatingTransportCatchesMismatch(t *testing.T) {
	t.Parallel()
	const id = "0190f5b8-7a3e-7c4d-8e2f-1a2b3c4d5e6f"
	cases := []struct {
		name        string
		method      string
		path        string
		status      int
		contentType string
		body        string
		wantError   string
	}{
		{name: "wrong bot body", method: http.MethodGet, path: "/api/v1/bots/" + id,
			status: 200, contentType: "application/json", body: `{"nope":1}`, wantError: "does not match"},
		{name: "undocumented status", method: http.MethodGet, path: "/api/v1/bots/" + id,
			status: http.StatusTeapot, contentType: "application/problem+json",
			body: `{"type":"about:blank","title":"I'm a teapot","status":418}`, wantError: "status is not supported"},
		{name: "problem with wrong content type", method: http.MethodGet, path: "/api/v1/bots/" + id,
			status: 404, contentType: "application/json",
			body: `{"type":"about:blank","title":"Not Found","status":404}`, wantError: "does not match"},
		{name: "unknown path answered 200", method: http.MethodGet, path: "/api/v1/nothing",
			status: 200, contentType: "application/json", body: `{}`, wantError: "no operation"},
		{name: "correct problem", method: http.MethodGet, path: "/api/v1/bots/" + id,
			status: 404, contentType: "application/problem+json",
			body: `{"type":"about:blank","title":"Not Found","status":404,"detail":"no such bot"}`},
		{name: "correct field errors", method: http.MethodGet, path: "/api/v1/bots?limit=0",
			status: 400, contentType: "application/problem+json",
			body: `{"type":"about:blank","title":"Bad Request","status":400,"detail":"invalid query","errors":[{"field":"limit","message":"must be an integer from 1 to 100"}]}`},
		{name: "unknown path answered 404", method: http.MethodPut, path: "/api/v1/nothing",
			status: 404, contentType: "application/problem+json", body: `{"type":"about:blank","title":"Not Found","status":404}`},
		{name: "undocumented method answered 404", method: http.MethodPut, path: "/api/v1/bots",
			status: 404, contentType: "application/problem+json", body: `{"type":"about:blank","title":"Not Found","status":404}`},
		{name: "outside the user API", method: http.MethodGet, path: "/bot/v1/config",
			status: 200, contentType: "text/plain", body: `anything`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			t.Cleanup(srv.Close)
			rec := &fakeReporter{}
			vt := newValidatingTransport(t, rec, nil)
			req, err := http.NewRequestWithContext(t.Context(), tc.method, srv.URL+tc.path, nil)
			require.NoError(t, err)
			resp, err := (&http.Client{Transport: vt}).Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, tc.body, string(got), "the body must still be readable")
			require.Equal(t, tc.status, resp.StatusCode)

			errs := rec.errors()
			if tc.wantError == "" {
				require.Empty(t, errs)
				return
			}
			require.Len(t, errs, 1)
			require.Contains(t, errs[0], tc.wantError)
			require.Contains(t, errs[0], tc.method+" "+tc.path[:strings.IndexByte(tc.path+"?", '?')])
		})
	}
}

func TestValidatingTransportCountsResponses(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/openapi.yaml" {
			serveOpenAPI(w, r)
			return
		}
		writeProblem(w, http.StatusNotFound, "no such bot")
	}))
	t.Cleanup(srv.Close)
	client, vt := newValidatingClient(t)
	for _, p := range []string{"/api/v1/bots/0190f5b8-7a3e-7c4d-8e2f-1a2b3c4d5e6f", "/api/v1/openapi.yaml"} {
		resp, err := client.Get(srv.URL + p)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
	}
	require.EqualValues(t, 1, vt.Validated(), "openapi.yaml itself is not validated")
}
