package coolifysim

import (
	"bytes"
	"context"
	"encoding/json"
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

	"github.com/meeboter/meeboter/hack/devenv/coolifyspec"
)

// specFile is Coolify 4.3.11's OpenAPI document: the one copy, which the
// client's contract tests (package coolify) read too, with the one table of
// deviations from it, coolifyspec.Deviations, patched in. The entries the
// table leaves to this package (ProvedBy BySim) are proved here by
// TestDeviationsAreReal.
const specFile = "../testdata/coolify-openapi.json"

// specServer is the document's server URL: requests are matched against it.
const specServer = "https://app.coolify.io/api/v1"

// samples are the simulator's evidence for the deviations coolifyspec
// leaves to this package (ProvedBy BySim), by deviation ID: each makes the
// simulator give a response that needs the deviation's patch.
var samples = map[string]func(t *testing.T) sampleResponse{
	"nullable-keyword":         sampleGetApplication,
	"build-pack-dockerimage":   sampleGetApplication,
	"application-null-columns": sampleGetApplication,
	"deployments-by-application-shape": func(t *testing.T) sampleResponse {
		s, c := newSampleSim(t, Config{})
		uuid := c.createApp(s, nil)
		c.start(uuid)
		return sampleResponse{http.MethodGet, "/deployments/applications/" + uuid, c.call(http.MethodGet, "/deployments/applications/"+uuid, nil)}
	},
	"deployment-null-columns": func(t *testing.T) sampleResponse {
		s, c := newSampleSim(t, Config{})
		uuid := c.createApp(s, nil)
		d, _ := c.start(uuid)["deployment_uuid"].(string)
		return sampleResponse{http.MethodGet, "/deployments/" + d, c.call(http.MethodGet, "/deployments/"+d, nil)}
	},
	"undeclared-422": func(t *testing.T) sampleResponse {
		s, c := newSampleSim(t, Config{})
		body := map[string]any{"project_uuid": s.Config().ProjectUUID, "server_uuid": s.Config().ServerUUID,
			"environment_name": "production", "docker_registry_image_name": "nginx", "nope": true}
		return sampleResponse{http.MethodPost, "/applications/dockerimage", c.call(http.MethodPost, "/applications/dockerimage", body)}
	},
	"422-errors-mixed-types": func(t *testing.T) sampleResponse {
		s, c := newSampleSim(t, Config{})
		body := map[string]any{"project_uuid": s.Config().ProjectUUID, "server_uuid": s.Config().ServerUUID,
			"environment_name": "production", "docker_registry_image_name": "nginx", "domains": "not a url"}
		return sampleResponse{http.MethodPost, "/applications/dockerimage", c.call(http.MethodPost, "/applications/dockerimage", body)}
	},
	"undeclared-429": func(t *testing.T) sampleResponse {
		_, c := newSampleSim(t, Config{RateLimitPerMinute: 1})
		c.call(http.MethodGet, "/applications", nil)
		return sampleResponse{http.MethodGet, "/applications", c.call(http.MethodGet, "/applications", nil)}
	},
	"undeclared-5xx": func(t *testing.T) sampleResponse {
		s, c := newSampleSim(t, Config{})
		s.SetErrorRate(1)
		return sampleResponse{http.MethodGet, "/applications", c.call(http.MethodGet, "/applications", nil)}
	},
	"html-framework-errors": func(t *testing.T) sampleResponse {
		s, c := newSampleSim(t, Config{})
		s.SetErrorRate(1)
		return sampleResponse{http.MethodGet, "/applications", c.call(http.MethodGet, "/applications", nil, "Accept", "")}
	},
	"validate-redirect": func(t *testing.T) sampleResponse {
		s, c := newSampleSim(t, Config{})
		uuid := c.createApp(s, nil)
		path := "/deployments/applications/" + uuid + "?take=0"
		return sampleResponse{http.MethodGet, path, c.call(http.MethodGet, path, nil, "Accept", "")}
	},
	"undeclared-404": func(t *testing.T) sampleResponse {
		_, c := newSampleSim(t, Config{})
		body := map[string]any{"project_uuid": "nope", "server_uuid": "nope", "environment_name": "production",
			"docker_registry_image_name": "nginx"}
		return sampleResponse{http.MethodPost, "/applications/dockerimage", c.call(http.MethodPost, "/applications/dockerimage", body)}
	},
	"undeclared-409": func(t *testing.T) sampleResponse {
		s, c := newSampleSim(t, Config{})
		uuid := c.createApp(s, nil)
		c.call(http.MethodPost, "/applications/"+uuid+"/envs", map[string]any{"key": "A", "value": "1"})
		return sampleResponse{http.MethodPost, "/applications/" + uuid + "/envs",
			c.call(http.MethodPost, "/applications/"+uuid+"/envs", map[string]any{"key": "A", "value": "1"})}
	},
}

type sampleResponse struct {
	method, path string // path under /api/v1, with query
	resp         resp
}

func sampleGetApplication(t *testing.T) sampleResponse {
	s, c := newSampleSim(t, Config{})
	uuid := c.createApp(s, map[string]any{"ports_exposes": nil})
	return sampleResponse{http.MethodGet, "/applications/" + uuid, c.call(http.MethodGet, "/applications/"+uuid, nil)}
}

// newSampleSim is newSim with a client that does not validate: samples are
// validated by hand against several documents.
func newSampleSim(t *testing.T, cfg Config) (*Sim, *client) {
	s, c := newSim(t, cfg)
	c.http = &http.Client{CheckRedirect: noRedirects}
	return s, c
}

// specDoc is a loaded document and its router.
type specDoc struct {
	doc    *openapi3.T
	router routers.Router
}

// specVariants caches loaded documents by the deviation left out.
var specVariants sync.Map // string -> func() (*specDoc, error)

// loadSpec returns the document with every deviation patched in except
// the one named skip ("" for all of them), loaded once per variant.
func loadSpec(t testing.TB, skip string) *specDoc {
	t.Helper()
	load, _ := specVariants.LoadOrStore(skip, sync.OnceValues(func() (*specDoc, error) { return buildSpec(skip) }))
	d, err := load.(func() (*specDoc, error))()
	require.NoError(t, err)
	return d
}

func buildSpec(skip string) (*specDoc, error) {
	var skips []string
	if skip != "" {
		skips = append(skips, skip)
	}
	doc, err := coolifyspec.Load(specFile, skips...)
	if err != nil {
		return nil, err
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &specDoc{doc: doc, router: router}, nil
}

func init() {
	// /version and /health answer text/html, which kin-openapi cannot decode
	// by default.
	openapi3filter.RegisterBodyDecoder("text/html", func(r io.Reader, _ http.Header, _ *openapi3.SchemaRef,
		_ openapi3filter.EncodingFn) (any, error) {
		b, err := io.ReadAll(r)
		return string(b), err
	})
}

var errNoOperation = errors.New("no operation in the document")

// operation is the document's "METHOD /path" for a request.
func (d *specDoc) operation(method, path string) (string, error) {
	req := httptest.NewRequestWithContext(context.Background(), method, specServer+path, http.NoBody)
	route, _, err := d.router.FindRoute(req)
	if err != nil {
		return "", fmt.Errorf("%w: %w", errNoOperation, err)
	}
	return route.Method + " " + route.Path, nil
}

// validate checks one response against d. A request no operation matches is
// fine when answered 404 or 405 with Coolify's {"message": ...}.
func (d *specDoc) validate(method, path string, r resp) error {
	req := httptest.NewRequestWithContext(context.Background(), method, specServer+path, http.NoBody)
	route, params, err := d.router.FindRoute(req)
	if err != nil {
		var m map[string]any
		if (r.status == http.StatusNotFound || r.status == http.StatusMethodNotAllowed) &&
			json.Unmarshal(r.body, &m) == nil && m["message"] != nil {
			return nil
		}
		return fmt.Errorf("%w: %w", errNoOperation, err)
	}
	input := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, ExcludeRequestBody: true},
		},
		Status:  r.status,
		Header:  r.header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	input.SetBodyBytes(r.body)
	return openapi3filter.ValidateResponse(context.Background(), input)
}

// reporter is the part of testing.TB the transport reports through.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
}

// validatingTransport checks every /api/v1 response passing through it
// against the patched document; requests are not validated, so tests can
// send bad ones.
type validatingTransport struct {
	t         reporter
	doc       *specDoc
	validated atomic.Int64
}

func newValidatingTransport(t testing.TB, r reporter) *validatingTransport {
	t.Helper()
	return &validatingTransport{t: r, doc: loadSpec(t, "")}
}

func (vt *validatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	path, ok := strings.CutPrefix(req.URL.Path, "/api/v1")
	if !ok {
		return res, nil
	}
	body, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	if req.URL.RawQuery != "" {
		path += "?" + req.URL.RawQuery
	}
	vt.validated.Add(1)
	if err := vt.doc.validate(req.Method, path, resp{status: res.StatusCode, header: res.Header, body: body}); err != nil {
		vt.t.Helper()
		vt.t.Errorf("openapi: %s %s -> %d does not match the document: %v\nbody: %.2000s", req.Method, path, res.StatusCode, err, body)
	}
	return res, nil
}

func TestSpecDocument(t *testing.T) {
	t.Parallel()
	d := loadSpec(t, "")
	require.Equal(t, "3.1.0", d.doc.OpenAPI)
	for _, p := range []string{"/applications", "/applications/dockerimage", "/applications/{uuid}",
		"/applications/{uuid}/envs", "/applications/{uuid}/envs/bulk", "/applications/{uuid}/start",
		"/applications/{uuid}/stop", "/applications/{uuid}/restart", "/deployments", "/deployments/{uuid}",
		"/deployments/{uuid}/cancel", "/deployments/applications/{uuid}"} {
		require.NotNil(t, d.doc.Paths.Value(p), p)
	}
}

// TestDeviationsAreReal proves the deviations coolifyspec leaves to this
// package (ProvedBy BySim): a response the simulator really gives, to one
// of the deviation's operations, fails against the document patched with
// every other deviation, and passes with all of them. A deviation with no
// sample here, or whose sample passes without its patch, fails.
func TestDeviationsAreReal(t *testing.T) {
	t.Parallel()
	for id := range samples {
		d, ok := coolifyspec.Find(id)
		require.True(t, ok, "a sample of %s, which coolifyspec does not list", id)
		require.NotZero(t, d.ProvedBy&coolifyspec.BySim, "a sample of %s, which coolifyspec does not leave to this package (ProvedBy)", id)
	}
	for _, dv := range coolifyspec.Deviations {
		if dv.ProvedBy&coolifyspec.BySim == 0 {
			continue
		}
		t.Run(dv.ID, func(t *testing.T) {
			t.Parallel()
			require.Contains(t, samples, dv.ID, "coolifyspec says this package proves %s", dv.ID)
			sample := samples[dv.ID](t)
			full := loadSpec(t, "")
			require.NoError(t, full.validate(sample.method, sample.path, sample.resp),
				"with every patch: %s", sample.resp.body)
			op, err := full.operation(sample.method, sample.path)
			require.NoError(t, err)
			require.True(t, dv.Concerns(op), "the sample is %s, not an operation of %s", op, dv.ID)
			err = loadSpec(t, dv.ID).validate(sample.method, sample.path, sample.resp)
			require.Error(t, err, "without the %s patch the sample should not validate: %s", dv.ID, sample.resp.body)
			require.NotErrorIs(t, err, errNoOperation)
		})
	}
}

// errorRecorder collects what the transport reports.
type errorRecorder struct {
	mu   sync.Mutex
	errs []string
}

func (e *errorRecorder) Helper() {}

func (e *errorRecorder) Errorf(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.errs = append(e.errs, fmt.Sprintf(format, args...))
}

func (e *errorRecorder) reported() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.errs...)
}

// TestValidatingTransportCatchesMismatch keeps the validation honest: a
// wrong body, an undeclared status and an unknown route answered 200 are
// all reported.
func TestValidatingTransportCatchesMismatch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, method, path string
		status             int
		body               string
		wantErr            bool
	}{
		{"wrong application", http.MethodGet, "/applications/abc", 200, `{"uuid":5}`, true},
		{"wrong list", http.MethodGet, "/applications", 200, `{"uuid":"x"}`, true},
		{"undeclared status", http.MethodGet, "/applications/abc", http.StatusTeapot, `{"message":"x"}`, true},
		{"unknown route answered 200", http.MethodGet, "/nothing", 200, `{}`, true},
		{"start without object", http.MethodPost, "/applications/abc/start", 200, `"queued"`, true},
		{"fine application", http.MethodGet, "/applications/abc", 200, `{"uuid":"abc","status":"running:unknown"}`, false},
		{"unknown route answered 404", http.MethodGet, "/nothing", 404, `{"message":"Not found.","docs":"x"}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			t.Cleanup(srv.Close)
			rec := &errorRecorder{}
			c := &client{t: t, base: srv.URL, http: &http.Client{Transport: newValidatingTransport(t, rec)}}
			r := c.call(tc.method, tc.path, nil)
			require.Equal(t, tc.body, string(r.body), "the body stays readable")
			if tc.wantErr {
				require.Len(t, rec.reported(), 1)
			} else {
				require.Empty(t, rec.reported())
			}
		})
	}
}
