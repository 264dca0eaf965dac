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
	"os"
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

// specFile is Coolify 4.3.11's OpenAPI document: the one copy, which the
// client's contract tests (package coolify) read too.
const specFile = "../testdata/coolify-openapi.json"

// specServer is the document's server URL: requests are matched against it.
const specServer = "https://app.coolify.io/api/v1"

// deviation is a documented difference between what Coolify's code answers
// (and the simulator with it) and what its OpenAPI document says
// (coolify-api.md §8). Responses are validated against the document with
// every deviation's patch applied, and TestDeviationsAreReal shows each
// patch is needed: a real simulator response fails without it.
type deviation struct {
	id     string
	spec   string // what the document says
	code   string // what Coolify does
	reason string
	patch  func(doc map[string]any)
	// sample makes the simulator answer a response that needs the patch.
	sample func(t *testing.T) sampleResponse
}

type sampleResponse struct {
	method, path string // path under /api/v1, with query
	resp         resp
}

// deviations is the table of documented code-vs-spec deviations (a function:
// the samples reach back to loadSpec).
func deviations() []deviation {
	return []deviation{
		{
			id:     "nullable-keyword",
			spec:   "an OpenAPI 3.1 document that marks nullable fields with the 3.0 keyword `nullable: true`",
			code:   "null in those fields (description, fqdn, health_check_port, settings.gpu_count, env comment, ...)",
			reason: "JSON Schema 2020-12 ignores `nullable`; the generator (swagger-php) meant type [T, null]",
			patch: func(doc map[string]any) {
				walkJSON(doc, func(m map[string]any) {
					if m["nullable"] != true {
						return
					}
					if t, ok := m["type"].(string); ok {
						m["type"] = []any{t, "null"}
					}
					if e, ok := m["enum"].([]any); ok {
						m["enum"] = append(e, nil)
					}
					delete(m, "nullable")
				})
			},
			sample: sampleGetApplication,
		},
		{
			id:     "build-pack-dockerimage",
			spec:   "Application.build_pack enum [nixpacks, railpack, static, dockerfile, dockercompose]",
			code:   `"dockerimage" for apps created by POST /applications/dockerimage`,
			reason: "§8.2: the enum in the schema lags BuildPackTypes",
			patch: func(doc map[string]any) {
				p := schemaProps(doc, "Application")["build_pack"].(map[string]any)
				p["enum"] = append(p["enum"].([]any), "dockerimage")
			},
			sample: sampleGetApplication,
		},
		{
			id:     "application-null-columns",
			spec:   "Application install_command, build_command, start_command, publish_directory, ports_exposes: string",
			code:   "null (nullable columns an image app never sets; ports_exposes optional since v4.1.2)",
			reason: "the schema does not mark these nullable columns nullable",
			patch: func(doc map[string]any) {
				nullable(schemaProps(doc, "Application"), "install_command", "build_command", "start_command",
					"publish_directory", "ports_exposes")
			},
			sample: sampleGetApplication,
		},
		{
			id:     "deployments-by-application-shape",
			spec:   "GET /deployments/applications/{uuid} 200: array of Application",
			code:   `{"count": <total>, "deployments": [ApplicationDeploymentQueue, ...]}`,
			reason: "§8.3: the attribute describes the wrong shape",
			patch: func(doc map[string]any) {
				op := operation(doc, "/deployments/applications/{uuid}", "get")
				op["responses"].(map[string]any)["200"] = jsonResponse("Deployments of the application.", map[string]any{
					"type": "object", "required": []any{"count", "deployments"},
					"properties": map[string]any{
						"count":       map[string]any{"type": "integer"},
						"deployments": map[string]any{"type": "array", "items": map[string]any{"$ref": "#/components/schemas/ApplicationDeploymentQueue"}},
					},
				})
			},
			sample: func(t *testing.T) sampleResponse {
				s, c := newSampleSim(t, Config{})
				uuid := c.createApp(s, nil)
				c.start(uuid)
				return sampleResponse{http.MethodGet, "/deployments/applications/" + uuid, c.call(http.MethodGet, "/deployments/applications/"+uuid, nil)}
			},
		},
		{
			id:     "deployment-null-columns",
			spec:   "ApplicationDeploymentQueue commit_message, git_type, current_process_id: string",
			code:   "null: image deployments have no commit message or git type; no process until in progress",
			reason: "the schema does not mark these nullable columns nullable",
			patch: func(doc map[string]any) {
				nullable(schemaProps(doc, "ApplicationDeploymentQueue"), "commit_message", "git_type", "current_process_id")
			},
			sample: func(t *testing.T) sampleResponse {
				s, c := newSampleSim(t, Config{})
				uuid := c.createApp(s, nil)
				d, _ := c.start(uuid)["deployment_uuid"].(string)
				return sampleResponse{http.MethodGet, "/deployments/" + d, c.call(http.MethodGet, "/deployments/"+d, nil)}
			},
		},
		{
			id:     "undeclared-422",
			spec:   "no 422 on most operations (create dockerimage, PATCH application, env endpoints, ...)",
			code:   `422 {"message":"Validation failed.","errors":{...}} (and bare {"message":...} 422s)`,
			reason: "§8.6: validation failures are answered but not declared",
			patch:  func(doc map[string]any) { addResponse(doc, "422", ref("#/components/responses/422")) },
			sample: func(t *testing.T) sampleResponse {
				s, c := newSampleSim(t, Config{})
				body := map[string]any{"project_uuid": s.Config().ProjectUUID, "server_uuid": s.Config().ServerUUID,
					"environment_name": "production", "docker_registry_image_name": "nginx", "nope": true}
				return sampleResponse{http.MethodPost, "/applications/dockerimage", c.call(http.MethodPost, "/applications/dockerimage", body)}
			},
		},
		{
			id:     "422-errors-mixed-types",
			spec:   "422 errors: {field: [string, ...]}",
			code:   `hand-written errors give a plain string: {"errors":{"domains":"Invalid URL: x"}}`,
			reason: "§0.3: errors values are not uniform",
			patch: func(doc map[string]any) {
				r := doc["components"].(map[string]any)["responses"].(map[string]any)["422"].(map[string]any)
				errs := r["content"].(map[string]any)["application/json"].(map[string]any)["schema"].(map[string]any)["properties"].(map[string]any)["errors"].(map[string]any)
				errs["additionalProperties"] = map[string]any{"anyOf": []any{
					map[string]any{"type": "array", "items": map[string]any{"type": "string"}},
					map[string]any{"type": "string"},
				}}
			},
			sample: func(t *testing.T) sampleResponse {
				s, c := newSampleSim(t, Config{})
				body := map[string]any{"project_uuid": s.Config().ProjectUUID, "server_uuid": s.Config().ServerUUID,
					"environment_name": "production", "docker_registry_image_name": "nginx", "domains": "not a url"}
				return sampleResponse{http.MethodPost, "/applications/dockerimage", c.call(http.MethodPost, "/applications/dockerimage", body)}
			},
		},
		{
			id:     "undeclared-429",
			spec:   "no 429 on any application or deployment operation",
			code:   `429 {"message":"Too Many Attempts."} with Retry-After and X-RateLimit-* (throttle:api, 200/min per user)`,
			reason: "§0.4: the throttle covers every route; the 429 component is declared but not referenced",
			patch:  func(doc map[string]any) { addResponse(doc, "429", ref("#/components/responses/429")) },
			sample: func(t *testing.T) sampleResponse {
				_, c := newSampleSim(t, Config{RateLimitPerMinute: 1})
				c.call(http.MethodGet, "/applications", nil)
				return sampleResponse{http.MethodGet, "/applications", c.call(http.MethodGet, "/applications", nil)}
			},
		},
		{
			id:     "undeclared-500",
			spec:   "no 500 anywhere",
			code:   `500 {"message":"Server Error"} (Laravel, APP_DEBUG off)`,
			reason: "§0.3, §9.15: servers fail; the document declares no 5xx",
			patch: func(doc map[string]any) {
				addResponse(doc, "500", jsonResponse("Server Error", messageSchema()))
			},
			sample: func(t *testing.T) sampleResponse {
				s, c := newSampleSim(t, Config{})
				s.SetErrorRate(1)
				return sampleResponse{http.MethodGet, "/applications", c.call(http.MethodGet, "/applications", nil)}
			},
		},
		{
			id:     "html-framework-errors",
			spec:   "429 and 500 answer application/json",
			code:   "an HTML error page (text/html) when the request does not send Accept: application/json",
			reason: "§0.1: Laravel renders its exceptions as JSON only for requests that expect JSON",
			patch: func(doc map[string]any) {
				html := map[string]any{"schema": map[string]any{"type": "string"}}
				r429 := doc["components"].(map[string]any)["responses"].(map[string]any)["429"].(map[string]any)
				r429["content"].(map[string]any)["text/html"] = html
				walkJSON(doc["paths"], func(m map[string]any) {
					if r, ok := m["500"].(map[string]any); ok && r["description"] == "Server Error" {
						r["content"].(map[string]any)["text/html"] = html
					}
				})
			},
			sample: func(t *testing.T) sampleResponse {
				s, c := newSampleSim(t, Config{})
				s.SetErrorRate(1)
				return sampleResponse{http.MethodGet, "/applications", c.call(http.MethodGet, "/applications", nil, "Accept", "")}
			},
		},
		{
			id:     "validate-redirect",
			spec:   "GET /deployments/applications/{uuid}: no 302",
			code:   "302 back (Location: Referer or /) for invalid skip/take when the request does not expect JSON",
			reason: "§3.3: $request->validate() redirects non-JSON requests instead of answering 422",
			patch: func(doc map[string]any) {
				op := operation(doc, "/deployments/applications/{uuid}", "get")
				op["responses"].(map[string]any)["302"] = map[string]any{"description": "Validation failed (request did not expect JSON)."}
			},
			sample: func(t *testing.T) sampleResponse {
				s, c := newSampleSim(t, Config{})
				uuid := c.createApp(s, nil)
				path := "/deployments/applications/" + uuid + "?take=0"
				return sampleResponse{http.MethodGet, path, c.call(http.MethodGet, path, nil, "Accept", "")}
			},
		},
		{
			id:     "undeclared-404",
			spec:   "no 404 on POST /applications/dockerimage, GET /deployments/applications/{uuid}, GET /applications",
			code:   `404 {"message":"Project not found."} / "Environment not found." / "Server not found." / "Application not found"`,
			reason: "§1.1, §3.3: lookups answer 404 where the document lists none",
			patch:  func(doc map[string]any) { addResponse(doc, "404", ref("#/components/responses/404")) },
			sample: func(t *testing.T) sampleResponse {
				_, c := newSampleSim(t, Config{})
				body := map[string]any{"project_uuid": "nope", "server_uuid": "nope", "environment_name": "production",
					"docker_registry_image_name": "nginx"}
				return sampleResponse{http.MethodPost, "/applications/dockerimage", c.call(http.MethodPost, "/applications/dockerimage", body)}
			},
		},
		{
			id:     "undeclared-409",
			spec:   "no 409 on POST /applications/{uuid}/envs",
			code:   `409 {"message":"Environment variable already exists. Use PATCH request to update it."}`,
			reason: "§2.2: a duplicate key is refused with 409",
			patch:  func(doc map[string]any) { addResponse(doc, "409", jsonResponse("Conflict.", messageSchema())) },
			sample: func(t *testing.T) sampleResponse {
				s, c := newSampleSim(t, Config{})
				uuid := c.createApp(s, nil)
				c.call(http.MethodPost, "/applications/"+uuid+"/envs", map[string]any{"key": "A", "value": "1"})
				return sampleResponse{http.MethodPost, "/applications/" + uuid + "/envs",
					c.call(http.MethodPost, "/applications/"+uuid+"/envs", map[string]any{"key": "A", "value": "1"})}
			},
		},
	}
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

// Helpers that patch the document as decoded JSON.

func walkJSON(v any, fn func(map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		fn(x)
		for _, c := range x {
			walkJSON(c, fn)
		}
	case []any:
		for _, c := range x {
			walkJSON(c, fn)
		}
	}
}

func schemaProps(doc map[string]any, schema string) map[string]any {
	return doc["components"].(map[string]any)["schemas"].(map[string]any)[schema].(map[string]any)["properties"].(map[string]any)
}

// nullable makes properties accept null, whether or not the nullable-keyword
// patch ran before.
func nullable(props map[string]any, names ...string) {
	for _, n := range names {
		p := props[n].(map[string]any)
		if t, ok := p["type"].(string); ok {
			p["type"] = []any{t, "null"}
		}
	}
}

func operation(doc map[string]any, path, method string) map[string]any {
	return doc["paths"].(map[string]any)[path].(map[string]any)[method].(map[string]any)
}

func ref(to string) map[string]any { return map[string]any{"$ref": to} }

func messageSchema() map[string]any {
	return map[string]any{"type": "object", "required": []any{"message"},
		"properties": map[string]any{"message": map[string]any{"type": "string"}}}
}

func jsonResponse(desc string, schema map[string]any) map[string]any {
	return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{"schema": schema}}}
}

// addResponse declares status on every operation that lacks it.
func addResponse(doc map[string]any, status string, r map[string]any) {
	for _, item := range doc["paths"].(map[string]any) {
		for method, op := range item.(map[string]any) {
			if !isHTTPMethod(method) {
				continue
			}
			responses := op.(map[string]any)["responses"].(map[string]any)
			if _, ok := responses[status]; !ok {
				responses[status] = r
			}
		}
	}
}

func isHTTPMethod(m string) bool {
	switch m {
	case "get", "put", "post", "delete", "options", "head", "patch", "trace":
		return true
	}
	return false
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
	b, err := os.ReadFile(specFile)
	if err != nil {
		return nil, err
	}
	var raw map[string]any
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, err
	}
	for _, dv := range deviations() {
		if dv.id != skip {
			dv.patch(raw)
		}
	}
	if b, err = json.Marshal(raw); err != nil {
		return nil, err
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(b)
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("document patched with all deviations but %q: %w", skip, err)
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
	ids := map[string]bool{}
	for _, dv := range deviations() {
		require.False(t, ids[dv.id], "duplicate deviation %s", dv.id)
		ids[dv.id] = true
		require.NotEmpty(t, dv.spec)
		require.NotEmpty(t, dv.code)
		require.NotEmpty(t, dv.reason)
	}
}

// TestDeviationsAreReal shows each listed deviation is needed: a response
// the simulator really gives fails against the document patched with every
// other deviation, and passes with all of them.
func TestDeviationsAreReal(t *testing.T) {
	t.Parallel()
	for _, dv := range deviations() {
		t.Run(dv.id, func(t *testing.T) {
			t.Parallel()
			sample := dv.sample(t)
			require.NoError(t, loadSpec(t, "").validate(sample.method, sample.path, sample.resp),
				"with every patch: %s", sample.resp.body)
			err := loadSpec(t, dv.id).validate(sample.method, sample.path, sample.resp)
			require.Error(t, err, "without the %s patch the sample should not validate: %s", dv.id, sample.resp.body)
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
