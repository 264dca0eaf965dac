package coolify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/hack/devenv/coolifyspec"
)

// The contract: every request the client sends and every answer it is
// tested with must match Coolify's own OpenAPI file (4.3.11, a copy of
// shared/reference/coolify-openapi.json), except where Coolify is known to
// depart from it. Those departures are coolifyspec.Deviations, one table
// shared with coolifysim's tests: each entry patches the document to what
// Coolify really does. The entries the table leaves to this package
// (ProvedBy ByClient) are proved here by TestDeviationsStillDeviate, so the
// table cannot go stale.

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

// proofs are Coolify's real behaviour for the deviations this package
// proves, by deviation ID: the document rejects each exchange without that
// deviation's patch and accepts it with every patch.
var proofs = map[string][]exchange{
	"nullable-keyword": {
		appAnswer(`{"uuid": "` + appUUID + `", "name": "slot", "description": null, "status": "exited:unhealthy"}`),
		appListAnswer(`{"uuid": "` + appUUID + `", "name": "slot", "description": null, "status": "exited:unhealthy"}`),
		answered(validRequest("PATCH /applications/{uuid}/envs/bulk"), 201,
			`[{"uuid": "s8gkc4wk0co8kk0wg8ssk4gs", "key": "A", "comment": null}]`),
	},
	"application-null-columns": {
		appAnswer(nullColumnsApp),
		appListAnswer(nullColumnsApp),
	},
	"deployment-null-columns": {
		answered(validRequest("GET /deployments/applications/{uuid}"), 200, `{"count": 1, "deployments": [{"deployment_uuid": "`+
			deployUUID+`", "status": "queued", "commit_message": null, "git_type": null}]}`),
	},
	"build-pack-dockerimage": {
		appAnswer(`{"uuid": "` + appUUID + `", "name": "slot", "build_pack": "dockerimage"}`),
		appListAnswer(`{"uuid": "` + appUUID + `", "name": "slot", "build_pack": "dockerimage"}`),
	},
	"create-environment-name-or-uuid": {{method: "POST", target: "/applications/dockerimage", reqBody: `{"project_uuid": "` +
		projectUUID + `", "server_uuid": "` + serverUUID + `", "environment_name": "production", ` +
		`"docker_registry_image_name": "ghcr.io/meeboter/bot"}`}},
	"deployments-by-application-shape": {
		answered(validRequest("GET /deployments/applications/{uuid}"), 200, deploymentsJSON),
	},
	"undeclared-404": slices.Concat(
		errorAnswers(404, `{"message": "Project not found."}`, nil, "POST /applications/dockerimage"),
		errorAnswers(404, appNotFoundNoDotJSON, nil, "GET /deployments/applications/{uuid}")),
	"undeclared-422": errorAnswers(422, `{"message": "Validation failed.", "errors": {"name": ["The name field is required."]}}`, nil,
		"POST /applications/dockerimage", "PATCH /applications/{uuid}", "PATCH /applications/{uuid}/envs/bulk",
		"GET /deployments/applications/{uuid}"),
	"422-errors-mixed-types": errorAnswers(422, validationJSON, nil, "POST /applications/dockerimage", "PATCH /applications/{uuid}"),
	"undeclared-429": errorAnswers(429, tooManyJSON, http.Header{
		"Retry-After": {"60"}, "X-Ratelimit-Limit": {"200"}, "X-Ratelimit-Remaining": {"0"},
	}, ourOps...),
	"undeclared-403": errorAnswers(403, forbiddenJSON, nil, ourOps...),
	"undeclared-5xx": slices.Concat(
		errorAnswers(500, serverErrorJSON, nil, ourOps...),
		errorAnswers(503, `{"message": "Service Unavailable"}`, nil, "GET /applications")),
}

// nullColumnsApp is a docker-image application's columns Coolify leaves null.
const nullColumnsApp = `{"uuid": "` + appUUID + `", "name": "slot", "install_command": null, "build_command": null, ` +
	`"start_command": null, "publish_directory": null, "ports_exposes": null}`

// appAnswer is GET /applications/{uuid} answered 200 with body.
func appAnswer(body string) exchange {
	return answered(validRequest("GET /applications/{uuid}"), 200, body)
}

// appListAnswer is GET /applications answered 200 with [app].
func appListAnswer(app string) exchange {
	return answered(validRequest("GET /applications"), 200, "["+app+"]")
}

// answered is ex with an answer.
func answered(ex exchange, status int, body string) exchange {
	ex.status, ex.respBody = status, body
	return ex
}

// errorAnswers answers a request that is valid for each of ops with status
// and body.
func errorAnswers(status int, body string, header http.Header, ops ...string) []exchange {
	out := make([]exchange, 0, len(ops))
	for _, op := range ops {
		ex := answered(validRequest(op), status, body)
		ex.respHeader = header
		out = append(out, ex)
	}
	return out
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
// calls fail validation: the spec, with only coolifyspec.Deviations patched
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

// spec is Coolify's OpenAPI document with some deviations patched in.
type spec struct {
	router routers.Router
}

// loadSpec loads the spec with every deviation patched in but those in skip.
func loadSpec(t testing.TB, skip ...string) *spec {
	t.Helper()
	doc, err := coolifyspec.Load(specFile, skip...)
	require.NoError(t, err)
	doc.Servers = nil // route on the path below /api/v1, whatever the host
	router, err := legacy.NewRouter(doc)
	require.NoError(t, err)
	return &spec{router: router}
}

var patchedSpec struct {
	once sync.Once
	spec *spec
}

// fullSpec is the spec with every deviation patched in; shared.
func fullSpec(t testing.TB) *spec {
	t.Helper()
	patchedSpec.once.Do(func() { patchedSpec.spec = loadSpec(t) })
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
	doc, err := openapi3.NewLoader().LoadFromFile(specFile) // as Coolify wrote it, no deviation patched in
	require.NoError(t, err)
	require.Equal(t, "3.1.0", doc.OpenAPI)
	require.Equal(t, "https://app.coolify.io/api/v1", doc.Servers[0].URL)
	for _, key := range ourOps {
		method, path, _ := strings.Cut(key, " ")
		require.NotNil(t, doc.Paths.Value(path), key)
		require.NotNil(t, doc.Paths.Value(path).GetOperation(method), key)
	}
}

// TestDeviationsStillDeviate proves the deviations coolifyspec leaves to
// this package (ProvedBy ByClient): without its patch (all others applied)
// the spec must reject each proof, and with every patch it must accept it.
// A deviation Coolify fixes in its spec fails here and must leave the table;
// one this package is to prove but has no proof for fails too.
func TestDeviationsStillDeviate(t *testing.T) {
	t.Parallel()
	full := fullSpec(t)
	for id := range proofs {
		d, ok := coolifyspec.Find(id)
		require.True(t, ok, "a proof of %s, which coolifyspec does not list", id)
		require.NotZero(t, d.ProvedBy&coolifyspec.ByClient, "a proof of %s, which coolifyspec does not leave to this package (ProvedBy)", id)
	}
	for _, d := range coolifyspec.Deviations {
		if d.ProvedBy&coolifyspec.ByClient == 0 {
			continue
		}
		t.Run(d.ID, func(t *testing.T) {
			t.Parallel()
			require.NotEmpty(t, proofs[d.ID], "coolifyspec says this package proves %s", d.ID)
			// Every operation of ours the entry names has a proof of its own.
			proved := map[string]bool{}
			without := loadSpec(t, d.ID)
			for _, ex := range proofs[d.ID] {
				op, err := without.check(ex)
				require.Error(t, err, "%s %s: the spec accepts it now; drop or narrow %s", ex.method, ex.target, d.ID)
				require.True(t, d.Concerns(op), "%s %s is %q, not an operation of %s", ex.method, ex.target, op, d.ID)
				_, err = full.check(ex)
				require.NoError(t, err, "%s %s: the patch does not describe Coolify's behaviour", ex.method, ex.target)
				proved[op] = true
			}
			for _, op := range d.Ops {
				if slices.Contains(ourOps, op) {
					require.True(t, proved[op], "%s names %s, which the client calls: prove it there", d.ID, op)
				}
			}
		})
	}
}

func TestNotDeviations(t *testing.T) {
	t.Parallel()
	full := fullSpec(t)
	for _, nd := range notDeviations {
		_, err := full.check(nd.ex)
		require.NoError(t, err, "%s %s: the spec rejects it after all; move it to coolifyspec.Deviations", nd.ref, nd.what)
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
