package coolify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/stretchr/testify/require"
)

// The contract: every request the client sends and every answer it is
// tested with must match Coolify's own OpenAPI file (4.3.11, a copy of
// shared/reference/coolify-openapi.json), except where Coolify is known to
// depart from it. Those departures are knownDeviations: each one patches the
// spec to what Coolify really does, and TestKnownDeviationsStillDeviate
// proves each patch is still needed, so the list cannot go stale.

const specFile = "testdata/coolify-openapi.json"

// ourOps are the operations the client calls, as "METHOD /path/template".
var ourOps = []string{
	"GET /applications",
	"POST /applications/dockerimage",
	"GET /applications/{uuid}",
	"PATCH /applications/{uuid}",
	"DELETE /applications/{uuid}",
	"PATCH /applications/{uuid}/envs/bulk",
	"POST /applications/{uuid}/start",
	"POST /applications/{uuid}/stop",
	"GET /deployments/applications/{uuid}",
}

// exchange is one request, and optionally its answer, below /api/v1.
type exchange struct {
	method, target string // target: path and query, e.g. "/applications/x?take=5"
	reqBody        string // sent as application/json when not empty
	status         int    // 0: only the request is checked
	respHeader     http.Header
	respBody       string // sent as application/json
}

// deviation is a place where Coolify does not do what its spec says.
type deviation struct {
	ref  string // where coolify-api.md documents it
	what string
	ops  []string // the operations of ourOps it concerns
	// patch teaches the spec what Coolify does, for the operations in ops.
	patch func(doc *openapi3.T, op *openapi3.Operation)
	// example is Coolify's real behaviour for op: the spec rejects it, the
	// patched spec accepts it.
	example func(op string) exchange
}

// knownDeviations are the departures from the spec that concern our calls.
// Checked and not departures, so not listed: PATCH …/envs/bulk answering
// 201 (coolify-api.md §8.4; the spec declares 201 for bulk, only the single
// PATCH …/envs disagrees) and the env flags is_runtime/is_buildtime (§8.5;
// the item schema allows extra fields). TestNotDeviations keeps those
// claims honest too.
var knownDeviations = []deviation{
	{
		ref: "not in coolify-api.md; found by these tests",
		what: "the file is OpenAPI 3.1 but marks nullable fields with 3.0's `nullable: true`, which 3.1 ignores; " +
			"Coolify sends null for them (description, fqdn, docker_registry_image_tag, comment, …)",
		ops: []string{"GET /applications/{uuid}", "GET /applications", "PATCH /applications/{uuid}/envs/bulk"},
		patch: func(doc *openapi3.T, _ *openapi3.Operation) {
			forEachSchema(doc, func(s *openapi3.Schema) {
				if s.Nullable && s.Type != nil && !s.Type.IncludesNull() {
					s.Type.With(openapi3.TypeNull)
					if len(s.Enum) > 0 && !slices.Contains(s.Enum, any(nil)) {
						s.Enum = append(s.Enum, nil)
					}
				}
			})
		},
		example: func(op string) exchange {
			body := `{"uuid": "` + appUUID + `", "name": "slot", "description": null, "status": "exited:unhealthy"}`
			switch op {
			case "PATCH /applications/{uuid}/envs/bulk":
				ex := validRequest(op)
				ex.status, ex.respBody = 201, `[{"uuid": "s8gkc4wk0co8kk0wg8ssk4gs", "key": "A", "comment": null}]`
				return ex
			case "GET /applications":
				return exchange{method: "GET", target: "/applications", status: 200, respBody: "[" + body + "]"}
			}
			return exchange{method: "GET", target: "/applications/" + appUUID, status: 200, respBody: body}
		},
	},
	{
		ref: "not in coolify-api.md; nullable columns (found with coolifysim, inferred from Coolify's schema)",
		what: "for a docker-image application Coolify sends null for install_command, build_command, start_command " +
			"and publish_directory, and for its deployments commit_message and git_type; the spec types them as strings",
		ops: []string{"GET /applications/{uuid}", "GET /applications", "GET /deployments/applications/{uuid}"},
		patch: func(doc *openapi3.T, _ *openapi3.Operation) {
			allowNull(doc, "Application", "install_command", "build_command", "start_command", "publish_directory")
			allowNull(doc, "ApplicationDeploymentQueue", "commit_message", "git_type")
		},
		example: func(op string) exchange {
			app := `{"uuid": "` + appUUID + `", "name": "slot", "install_command": null, "build_command": null, ` +
				`"start_command": null, "publish_directory": null}`
			switch op {
			case "GET /applications":
				return exchange{method: "GET", target: "/applications", status: 200, respBody: "[" + app + "]"}
			case "GET /deployments/applications/{uuid}":
				ex := validRequest(op)
				ex.status, ex.respBody = 200, `{"count": 1, "deployments": [{"deployment_uuid": "`+deployUUID+
					`", "status": "queued", "commit_message": null, "git_type": null}]}`
				return ex
			}
			return exchange{method: "GET", target: "/applications/" + appUUID, status: 200, respBody: app}
		},
	},
	{
		ref:  "§8.2",
		what: "Application.build_pack's enum lacks dockerimage, the build pack of every application we create",
		ops:  []string{"GET /applications/{uuid}", "GET /applications"},
		patch: func(doc *openapi3.T, _ *openapi3.Operation) {
			bp := doc.Components.Schemas["Application"].Value.Properties["build_pack"].Value
			if !slices.Contains(bp.Enum, any("dockerimage")) {
				bp.Enum = append(bp.Enum, "dockerimage")
			}
		},
		example: func(op string) exchange {
			body := `{"uuid": "` + appUUID + `", "name": "slot", "build_pack": "dockerimage"}`
			if op == "GET /applications" {
				return exchange{method: "GET", target: "/applications", status: 200, respBody: "[" + body + "]"}
			}
			return exchange{method: "GET", target: "/applications/" + appUUID, status: 200, respBody: body}
		},
	},
	{
		ref:  "§1.1, §8.1",
		what: "create requires environment_name and environment_uuid; Coolify needs only one of them",
		ops:  []string{"POST /applications/dockerimage"},
		patch: func(_ *openapi3.T, op *openapi3.Operation) {
			s := op.RequestBody.Value.Content.Get("application/json").Schema.Value
			s.Required = []string{"project_uuid", "server_uuid", "docker_registry_image_name"}
			s.AnyOf = openapi3.SchemaRefs{
				openapi3.NewSchemaRef("", &openapi3.Schema{Required: []string{"environment_name"}}),
				openapi3.NewSchemaRef("", &openapi3.Schema{Required: []string{"environment_uuid"}}),
			}
		},
		example: func(string) exchange {
			return exchange{method: "POST", target: "/applications/dockerimage", reqBody: `{"project_uuid": "` +
				projectUUID + `", "server_uuid": "` + serverUUID + `", "environment_name": "production", ` +
				`"docker_registry_image_name": "ghcr.io/meeboter/bot"}`}
		},
	},
	{
		ref:  "§3.3, §8.3",
		what: "deployments by application answer {count, deployments}, not an array of Application",
		ops:  []string{"GET /deployments/applications/{uuid}"},
		patch: func(doc *openapi3.T, op *openapi3.Operation) {
			// The items are ApplicationDeploymentQueue (titled "Project model", §8.8).
			deployments := openapi3.NewArraySchema()
			deployments.Items = openapi3.NewSchemaRef("#/components/schemas/ApplicationDeploymentQueue",
				doc.Components.Schemas["ApplicationDeploymentQueue"].Value)
			op.Responses.Value("200").Value.Content.Get("application/json").Schema = openapi3.NewObjectSchema().
				WithProperty("count", openapi3.NewIntegerSchema()).
				WithProperty("deployments", deployments).
				WithRequired([]string{"count", "deployments"}).NewRef()
		},
		example: func(string) exchange {
			return exchange{method: "GET", target: "/deployments/applications/" + appUUID + "?skip=0&take=10",
				status: 200, respBody: deploymentsJSON}
		},
	},
	{
		ref:     "§1.1, §8.6",
		what:    "create answers 404 for an unknown project, server or environment; the spec declares none",
		ops:     []string{"POST /applications/dockerimage"},
		patch:   declare("404", "Project not found.", nil),
		example: errorExample(404, `{"message": "Project not found."}`, nil),
	},
	{
		ref:     "§3.3, §8.6",
		what:    "deployments by application answer 404 for an unknown application; the spec declares none",
		ops:     []string{"GET /deployments/applications/{uuid}"},
		patch:   declare("404", `Application not found`, nil),
		example: errorExample(404, appNotFoundNoDotJSON, nil),
	},
	{
		ref:     "§0.3, §8.6",
		what:    `422 validation errors are undeclared; "errors" values are a string or a list of strings`,
		ops:     []string{"POST /applications/dockerimage", "PATCH /applications/{uuid}", "PATCH /applications/{uuid}/envs/bulk", "GET /deployments/applications/{uuid}"},
		patch:   declare("422", "Validation failed.", validationErrors()),
		example: errorExample(422, validationJSON, nil),
	},
	{
		ref:   "§0.4, §8.6",
		what:  "429 from the API throttle is undeclared (it comes with Retry-After)",
		ops:   ourOps,
		patch: declare("429", "Too Many Attempts.", nil),
		example: errorExample(429, tooManyJSON, http.Header{
			"Retry-After": {"60"}, "X-Ratelimit-Limit": {"200"}, "X-Ratelimit-Remaining": {"0"},
		}),
	},
	{
		ref:     "§0.2, §8.6",
		what:    "403 (missing ability, API disabled, IP not allowed, team role) is undeclared",
		ops:     ourOps,
		patch:   declare("403", "Missing required permissions: deploy", nil),
		example: errorExample(403, forbiddenJSON, nil),
	},
	{
		ref:     "§0.3, §8.6",
		what:    `5xx ("Server Error") is undeclared`,
		ops:     ourOps,
		patch:   declare("5XX", "Server Error", nil),
		example: errorExample(500, serverErrorJSON, nil),
	},
}

// allowNull lets the named properties of a component schema be null.
func allowNull(doc *openapi3.T, schema string, props ...string) {
	for _, p := range props {
		doc.Components.Schemas[schema].Value.Properties[p].Value.Type.With(openapi3.TypeNull)
	}
}

// declare adds an error answer {message[, errors]} with the given status.
func declare(status, message string, errorsSchema *openapi3.Schema) func(*openapi3.T, *openapi3.Operation) {
	return func(_ *openapi3.T, op *openapi3.Operation) {
		body := openapi3.NewObjectSchema().WithProperty("message", openapi3.NewStringSchema()).
			WithRequired([]string{"message"})
		if errorsSchema != nil {
			body = body.WithProperty("errors", errorsSchema)
		}
		op.Responses.Set(status, &openapi3.ResponseRef{Value: openapi3.NewResponse().
			WithDescription(message).WithJSONSchema(body)})
	}
}

// validationErrors is {"field": "msg" | ["msg", …]}.
func validationErrors() *openapi3.Schema {
	return openapi3.NewObjectSchema().WithAdditionalProperties(openapi3.NewOneOfSchema(
		openapi3.NewStringSchema(), openapi3.NewArraySchema().WithItems(openapi3.NewStringSchema())))
}

// errorExample answers a request that is valid for op with status and body.
func errorExample(status int, body string, header http.Header) func(op string) exchange {
	return func(op string) exchange {
		ex := validRequest(op)
		ex.status, ex.respBody, ex.respHeader = status, body, header
		return ex
	}
}

// validRequest is a request for op as the client sends it.
func validRequest(op string) exchange {
	a := "/applications/" + appUUID
	switch op {
	case "GET /applications":
		return exchange{method: "GET", target: "/applications?tag=meeboter"}
	case "POST /applications/dockerimage":
		return exchange{method: "POST", target: "/applications/dockerimage", reqBody: `{"project_uuid": "` +
			projectUUID + `", "server_uuid": "` + serverUUID + `", "environment_name": "production", ` +
			`"environment_uuid": "o8c0kwwc4sw8o8k4kgkg4o0c", "docker_registry_image_name": "ghcr.io/meeboter/bot", ` +
			`"instant_deploy": false, "autogenerate_domain": false}`}
	case "GET /applications/{uuid}":
		return exchange{method: "GET", target: a}
	case "PATCH /applications/{uuid}":
		return exchange{method: "PATCH", target: a, reqBody: `{"docker_registry_image_tag": "1.4.3"}`}
	case "DELETE /applications/{uuid}":
		return exchange{method: "DELETE", target: a + "?docker_cleanup=false"}
	case "PATCH /applications/{uuid}/envs/bulk":
		return exchange{method: "PATCH", target: a + "/envs/bulk", reqBody: `{"data": [{"key": "A", "value": "1"}]}`}
	case "POST /applications/{uuid}/start":
		return exchange{method: "POST", target: a + "/start"}
	case "POST /applications/{uuid}/stop":
		return exchange{method: "POST", target: a + "/stop?docker_cleanup=false"}
	case "GET /deployments/applications/{uuid}":
		return exchange{method: "GET", target: "/deployments/applications/" + appUUID + "?skip=0&take=10"}
	}
	panic("validRequest: unknown operation " + op)
}

// notDeviations are things coolify-api.md §8 lists that do not make our
// calls fail validation: the spec, with only the knownDeviations patched
// in, accepts them.
var notDeviations = []struct {
	ref, what string
	ex        exchange
}{
	{"§8.4", "PATCH …/envs/bulk answers 201, which the spec declares", exchange{
		method: "PATCH", target: "/applications/" + appUUID + "/envs/bulk", status: 201, respBody: envsBulkJSON,
		reqBody: `{"data": [{"key": "A", "value": "1", "is_preview": false, "is_literal": true, "is_multiline": false, ` +
			`"is_shown_once": false, "is_runtime": true, "is_buildtime": false}]}`,
	}},
	{"§8.1", "ports_exposes is optional in the spec and sent anyway", exchange{
		method: "POST", target: "/applications/dockerimage", status: 201, respBody: createdJSON,
		reqBody: `{"project_uuid": "p", "server_uuid": "s", "environment_name": "production", "environment_uuid": "e", ` +
			`"docker_registry_image_name": "ghcr.io/meeboter/bot", "ports_exposes": "3000"}`,
	}},
}

// forEachSchema calls f once for every schema reachable from doc.
func forEachSchema(doc *openapi3.T, f func(*openapi3.Schema)) {
	seen := map[*openapi3.Schema]bool{}
	var walk func(r *openapi3.SchemaRef)
	walkAll := func(rs ...*openapi3.SchemaRef) {
		for _, r := range rs {
			walk(r)
		}
	}
	walk = func(r *openapi3.SchemaRef) {
		if r == nil || r.Value == nil || seen[r.Value] {
			return
		}
		s := r.Value
		seen[s] = true
		f(s)
		walkAll(s.OneOf...)
		walkAll(s.AnyOf...)
		walkAll(s.AllOf...)
		walkAll(s.Not, s.Items, s.AdditionalProperties.Schema)
		for _, p := range s.Properties {
			walk(p)
		}
	}
	walkContent := func(c openapi3.Content) {
		for _, mt := range c {
			walk(mt.Schema)
		}
	}
	for _, s := range doc.Components.Schemas {
		walk(s)
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, p := range op.Parameters {
				walk(p.Value.Schema)
			}
			if op.RequestBody != nil {
				walkContent(op.RequestBody.Value.Content)
			}
			for _, r := range op.Responses.Map() {
				walkContent(r.Value.Content)
			}
		}
	}
}

// spec is Coolify's OpenAPI document with some deviations patched in.
type spec struct {
	router routers.Router
}

var specData = sync.OnceValues(func() ([]byte, error) { return os.ReadFile(specFile) })

// loadSpec parses the spec and applies devs.
func loadSpec(t testing.TB, devs []deviation) *spec {
	t.Helper()
	data, err := specData()
	require.NoError(t, err)
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	require.NoError(t, err)
	require.True(t, doc.IsOpenAPI31OrLater(), "coolify-openapi.json is OpenAPI %s", doc.OpenAPI)
	doc.Servers = nil // route on the path below /api/v1, whatever the host
	for _, d := range devs {
		for _, key := range d.ops {
			method, path, _ := strings.Cut(key, " ")
			item := doc.Paths.Value(path)
			require.NotNil(t, item, "spec has no path %s", path)
			op := item.GetOperation(method)
			require.NotNil(t, op, "spec has no operation %s", key)
			d.patch(doc, op)
		}
	}
	router, err := legacy.NewRouter(doc) // validates the document
	require.NoError(t, err)
	return &spec{router: router}
}

var patchedSpec struct {
	once sync.Once
	spec *spec
}

// fullSpec is the spec with every known deviation patched in; shared.
func fullSpec(t testing.TB) *spec {
	t.Helper()
	patchedSpec.once.Do(func() { patchedSpec.spec = loadSpec(t, knownDeviations) })
	require.NotNil(t, patchedSpec.spec, "loading the spec failed in another test")
	return patchedSpec.spec
}

// check validates ex: the request, then the answer when ex.status is set.
// op is the operation ex matched.
func (s *spec) check(ex exchange) (op string, err error) {
	var body io.Reader = http.NoBody
	if ex.reqBody != "" {
		body = strings.NewReader(ex.reqBody)
	}
	req := httptest.NewRequestWithContext(context.Background(), ex.method, ex.target, body)
	if ex.reqBody != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	respHeader := ex.respHeader.Clone()
	if respHeader == nil {
		respHeader = http.Header{}
	}
	if ex.respBody != "" && respHeader.Get("Content-Type") == "" {
		respHeader.Set("Content-Type", "application/json")
	}
	return s.checkHTTP(req, []byte(ex.reqBody), ex.status, respHeader, []byte(ex.respBody))
}

// checkHTTP validates req (path below /api/v1) and, when status is not 0,
// its answer.
func (s *spec) checkHTTP(req *http.Request, reqBody []byte, status int, respHeader http.Header, respBody []byte) (string, error) {
	route, params, err := s.router.FindRoute(req)
	if err != nil {
		return "", fmt.Errorf("%s %s is no operation of the spec: %w", req.Method, req.URL.Path, err)
	}
	op := route.Method + " " + route.Path
	req.Body = io.NopCloser(bytes.NewReader(reqBody))
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{
			AuthenticationFunc:  openapi3filter.NoopAuthenticationFunc,
			SkipSettingDefaults: true,
			MultiError:          true,
		}}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		return op, fmt.Errorf("request: %w", err)
	}
	if status == 0 {
		return op, nil
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: respHeader,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	out.SetBodyBytes(respBody)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return op, fmt.Errorf("answer %d: %w", status, err)
	}
	return op, nil
}

// reporter is the part of testing.TB the transport reports through.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
}

// contractTransport validates every exchange against the patched spec and
// reports mismatches. It never changes what is sent or received.
type contractTransport struct {
	t    reporter
	base http.RoundTripper
	spec *spec

	mu  sync.Mutex
	ops map[string]int // operation -> exchanges validated
}

func newContractTransport(t testing.TB, r reporter, base http.RoundTripper) *contractTransport {
	t.Helper()
	if base == nil {
		base = http.DefaultTransport
	}
	return &contractTransport{t: r, base: base, spec: fullSpec(t), ops: map[string]int{}}
}

func (ct *contractTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil && req.Body != http.NoBody {
		var err error
		if reqBody, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		_ = req.Body.Close()
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	resp, err := ct.base.RoundTrip(req)
	if err != nil {
		// No answer: still check what was sent.
		ct.check(req, reqBody, 0, nil, nil)
		return nil, err
	}
	respBody, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	ct.check(req, reqBody, resp.StatusCode, resp.Header, respBody)
	return resp, nil
}

func (ct *contractTransport) check(req *http.Request, reqBody []byte, status int, respHeader http.Header, respBody []byte) {
	ct.t.Helper()
	below := req.Clone(context.Background())
	p, ok := strings.CutPrefix(req.URL.Path, "/api/v1")
	if !ok {
		ct.t.Errorf("contract: %s %s is not below /api/v1", req.Method, req.URL.Path)
		return
	}
	below.URL.Path, below.URL.RawPath = p, ""
	op, err := ct.spec.checkHTTP(below, reqBody, status, respHeader, respBody)
	if err != nil {
		ct.t.Errorf("contract: %s %s -> %d breaks Coolify's spec: %v\nrequest: %s\nanswer: %s",
			req.Method, req.URL, status, err, reqBody, respBody)
		return
	}
	ct.mu.Lock()
	ct.ops[op]++
	ct.mu.Unlock()
}

// validated returns the operations checked so far.
func (ct *contractTransport) validated() map[string]int {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	out := make(map[string]int, len(ct.ops))
	for k, v := range ct.ops {
		out[k] = v
	}
	return out
}

func TestSpecIsCoolifys(t *testing.T) {
	t.Parallel()
	data, err := specData()
	require.NoError(t, err)
	doc, err := openapi3.NewLoader().LoadFromData(data)
	require.NoError(t, err)
	require.Equal(t, "3.1.0", doc.OpenAPI)
	require.Equal(t, "https://app.coolify.io/api/v1", doc.Servers[0].URL)
	for _, key := range ourOps {
		method, path, _ := strings.Cut(key, " ")
		require.NotNil(t, doc.Paths.Value(path), key)
		require.NotNil(t, doc.Paths.Value(path).GetOperation(method), key)
	}
}

// TestKnownDeviationsStillDeviate keeps knownDeviations honest: without its
// patch (all others applied) the spec must reject each example, and with
// every patch it must accept it. A deviation Coolify fixes in its spec
// fails here and must be removed from the list.
func TestKnownDeviationsStillDeviate(t *testing.T) {
	t.Parallel()
	full := fullSpec(t)
	for i, d := range knownDeviations {
		t.Run(d.ref+" "+d.what, func(t *testing.T) {
			t.Parallel()
			without := loadSpec(t, slices.Delete(slices.Clone(knownDeviations), i, i+1))
			for _, op := range d.ops {
				ex := d.example(op)
				got, err := without.check(ex)
				require.Error(t, err, "%s: the spec accepts %s %s now; drop or narrow this deviation", op, ex.method, ex.target)
				require.Equal(t, op, got)
				_, err = full.check(ex)
				require.NoError(t, err, "%s: the patch does not describe Coolify's behaviour", op)
			}
		})
	}
}

func TestNotDeviations(t *testing.T) {
	t.Parallel()
	full := fullSpec(t)
	for _, nd := range notDeviations {
		_, err := full.check(nd.ex)
		require.NoError(t, err, "%s %s: the spec rejects it after all; move it to knownDeviations", nd.ref, nd.what)
	}
}

// TestKnownDeviationsConcernOurOps keeps the list about this client.
func TestKnownDeviationsConcernOurOps(t *testing.T) {
	t.Parallel()
	for _, d := range knownDeviations {
		require.NotEmpty(t, d.ops, d.what)
		for _, op := range d.ops {
			require.Contains(t, ourOps, op, d.what)
		}
		require.NotEmpty(t, d.ref, d.what)
	}
}

// recorder is a reporter that keeps what it is told.
type recorder struct {
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) reported() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.errs)
}

// TestContractTransportCatchesMismatch shows the validation is not vacuous.
func TestContractTransportCatchesMismatch(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name            string
		method, path    string
		reqBody         string
		status          int
		respBody, wants string
	}{
		{"answer of the wrong type", "GET", "/api/v1/applications/" + appUUID, "", 200, `{"uuid": 5}`, "uuid"},
		{"request without a required field", "POST", "/api/v1/applications/dockerimage",
			`{"server_uuid": "s", "environment_name": "production", "docker_registry_image_name": "i"}`,
			201, createdJSON, "project_uuid"},
		{"undeclared status", "GET", "/api/v1/applications", "", 418, `{"message": "teapot"}`, "418"},
		{"operation not in the spec", "GET", "/api/v1/applications/" + appUUID + "/nothing", "", 404, `{"message": "Not found."}`, "no operation"},
		{"query of the wrong type", "GET", "/api/v1/deployments/applications/" + appUUID + "?take=ten", "", 200,
			`{"count": 0, "deployments": []}`, "take"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.respBody)
			}))
			t.Cleanup(srv.Close)
			rec := &recorder{}
			ct := newContractTransport(t, rec, srv.Client().Transport)
			var body io.Reader
			if tc.reqBody != "" {
				body = strings.NewReader(tc.reqBody)
			}
			req, err := http.NewRequestWithContext(t.Context(), tc.method, srv.URL+tc.path, body)
			require.NoError(t, err)
			if body != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := ct.RoundTrip(req)
			require.NoError(t, err)
			got, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.NoError(t, resp.Body.Close())
			require.Equal(t, tc.respBody, string(got), "the transport must hand the answer on unchanged")
			errs := rec.reported()
			require.Len(t, errs, 1)
			require.Contains(t, errs[0], tc.wants)
		})
	}
}

// TestContractEveryOperation runs each call of the client, including its
// error answers, through the validating transport.
func TestContractEveryOperation(t *testing.T) {
	t.Parallel()
	fake := newFakeCoolify(t)
	a := "/applications/" + appUUID
	fake.on("POST /applications/dockerimage", r(201, createdJSON), r(422, validationJSON), r(409, conflictJSON))
	fake.on("GET "+a, r(200, appJSON), r(404, appNotFoundJSON), r(403, forbiddenJSON))
	fake.on("GET /applications", r(200, appListJSON), r(401, unauthenticatedJSON))
	fake.on("PATCH "+a, r(200, updatedJSON), r(422, validationJSON))
	fake.on("DELETE "+a, r(200, deleteQueuedJSON), r(404, appNotFoundNoDotJSON))
	fake.on("PATCH "+a+"/envs/bulk", r(201, envsBulkJSON), r(400, badContentTypeJSON))
	fake.on("POST "+a+"/start", r(200, startQueuedJSON), r(200, startSkippedJSON), r(500, serverErrorJSON))
	fake.on("POST "+a+"/stop", r(200, stopQueuedJSON), r(429, tooManyJSON))
	fake.on("GET /deployments"+a, r(200, deploymentsJSON), r(404, appNotFoundNoDotJSON))
	c, _, ct := newTestClient(t, fake, Config{MaxRetries: -1})
	ctx := t.Context()
	create := CreateApp{ProjectUUID: projectUUID, ServerUUID: serverUUID, EnvironmentName: "production",
		Image: "ghcr.io/meeboter/bot", Tag: "1.4.2", PortsExposes: "3000", Tags: []string{"meeboter"}}
	tag := "1.4.3"
	for range 3 {
		_, _ = c.CreateApplication(ctx, create)
		_, _ = c.GetApplication(ctx, appUUID)
		_, _ = c.ListApplications(ctx, "meeboter")
		_ = c.UpdateApplication(ctx, appUUID, AppPatch{Tag: &tag})
		_ = c.DeleteApplication(ctx, appUUID)
		_ = c.SetEnvs(ctx, appUUID, map[string]string{"POOL_SLOT_UUID": "slot-1"})
		_, _ = c.StartApplication(ctx, appUUID)
		_ = c.StopApplication(ctx, appUUID)
		_, _ = c.Deployments(ctx, appUUID, 5)
	}
	got := ct.validated()
	for _, op := range ourOps {
		require.GreaterOrEqual(t, got[op], 2, "%s was not validated", op)
	}
	require.Len(t, got, len(ourOps))
}

var errNoAnswer = errors.New("no answer")

// TestContractChecksRequestsWithoutAnswer: a request is validated even when
// the connection fails.
func TestContractChecksRequestsWithoutAnswer(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	ct := newContractTransport(t, rec, roundTripFunc(func(*http.Request) (*http.Response, error) { return nil, errNoAnswer }))
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://coolify.test/api/v1/applications/dockerimage",
		strings.NewReader(`{"docker_registry_image_name": 1}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := ct.RoundTrip(req)
	if resp != nil {
		_ = resp.Body.Close()
	}
	require.ErrorIs(t, err, errNoAnswer)
	require.Len(t, rec.reported(), 1)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
