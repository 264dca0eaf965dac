package coolify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/meeboter/meeboter/hack/devenv/fakeclock"
)

// reply is one canned answer of fakeCoolify. Status -1 drops the connection.
type reply struct {
	status int
	body   string
	header http.Header
}

func r(status int, body string) reply { return reply{status: status, body: body} }

func (rp reply) with(key, value string) reply {
	rp.header = rp.header.Clone()
	if rp.header == nil {
		rp.header = http.Header{}
	}
	rp.header.Set(key, value)
	return rp
}

// received is a request as fakeCoolify saw it.
type received struct {
	method, path string // path below /api/v1
	query        url.Values
	header       http.Header
	body         string
}

// fakeCoolify answers "METHOD /path" (below /api/v1) from a queue of
// replies per route; the last reply repeats. Unknown routes get Coolify's
// catch-all 404.
type fakeCoolify struct {
	t      *testing.T
	mu     sync.Mutex
	routes map[string][]reply
	got    []received
}

func newFakeCoolify(t *testing.T) *fakeCoolify {
	return &fakeCoolify{t: t, routes: map[string][]reply{}}
}

func (f *fakeCoolify) on(route string, replies ...reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.routes[route] = append(f.routes[route], replies...)
}

func (f *fakeCoolify) requests() []received {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]received(nil), f.got...)
}

func (f *fakeCoolify) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	path := strings.TrimPrefix(req.URL.Path, "/api/v1")
	// What every request must carry (coolify-api.md §0.1).
	if got := req.Header.Get("Authorization"); got != "Bearer "+testToken {
		f.t.Errorf("%s %s: Authorization %q", req.Method, path, got)
	}
	if got := req.Header.Get("Accept"); got != "application/json" {
		f.t.Errorf("%s %s: Accept %q, want application/json", req.Method, path, got)
	}
	if got := req.Header.Get("Content-Type"); (len(body) > 0) != (got == "application/json") {
		f.t.Errorf("%s %s: Content-Type %q with a %d-byte body", req.Method, path, got, len(body))
	}
	f.mu.Lock()
	f.got = append(f.got, received{req.Method, path, req.URL.Query(), req.Header.Clone(), string(body)})
	key := req.Method + " " + path
	queue := f.routes[key]
	rp := reply{status: http.StatusNotFound, body: `{"message": "Not found.", "docs": "https://coolify.io/docs"}`}
	if len(queue) > 0 {
		rp = queue[0]
		if len(queue) > 1 {
			f.routes[key] = queue[1:]
		}
	}
	f.mu.Unlock()
	if rp.status < 0 {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			_ = conn.Close()
		}
		return
	}
	for k, v := range rp.header {
		w.Header()[k] = v
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(rp.status)
	_, _ = io.WriteString(w, rp.body)
}

// newTestClient serves h and returns a client for it whose every exchange
// is validated against Coolify's spec, on a fake clock. cfg's BaseURL,
// Token and HTTPClient are filled in.
func newTestClient(t *testing.T, h http.Handler, cfg Config) (*Client, *fakeclock.Clock, *contractTransport) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	ct := newContractTransport(t, t, srv.Client().Transport)
	cfg.BaseURL, cfg.Token = srv.URL+"/api/v1", testToken
	cfg.HTTPClient = &http.Client{Transport: ct, Timeout: 10 * time.Second}
	c, err := NewClient(cfg)
	require.NoError(t, err)
	clock := fakeclock.New(time.Date(2026, 8, 22, 10, 0, 0, 0, time.UTC))
	c.now, c.sleep = clock.Now, clock.Sleep
	return c, clock, ct
}

func intPtr(v int) *int           { return &v }
func strPtr(v string) *string     { return &v }
func mustTime(s string) time.Time { t, _ := time.Parse(time.RFC3339Nano, s); return t }

func TestCreateApplication(t *testing.T) {
	t.Parallel()
	fake := newFakeCoolify(t)
	fake.on("POST /applications/dockerimage", r(201, createdJSON))
	c, _, _ := newTestClient(t, fake, Config{})
	uuid, err := c.CreateApplication(t.Context(), CreateApp{
		ProjectUUID: projectUUID, ServerUUID: serverUUID, EnvironmentName: "production",
		Name: "meeboter-slot-zoom-01", Description: "pool slot", Image: "ghcr.io/meeboter/bot", Tag: "1.4.2",
		PortsExposes: "3000", LimitsCPUs: "1.5", LimitsMemory: "2g", Tags: []string{" Meeboter ", "zoom"},
		CustomDockerRunOptions: "--shm-size=2g", MaxRestartCount: intPtr(0),
	})
	require.NoError(t, err)
	require.Equal(t, appUUID, uuid)

	reqs := fake.requests()
	require.Len(t, reqs, 1)
	require.Equal(t, "Bearer "+testToken, reqs[0].header.Get("Authorization"))
	require.Equal(t, "application/json", reqs[0].header.Get("Accept"))
	require.Equal(t, "application/json", reqs[0].header.Get("Content-Type"))
	require.JSONEq(t, `{
		"project_uuid": "`+projectUUID+`", "server_uuid": "`+serverUUID+`", "environment_name": "production",
		"name": "meeboter-slot-zoom-01", "description": "pool slot",
		"docker_registry_image_name": "ghcr.io/meeboter/bot", "docker_registry_image_tag": "1.4.2",
		"ports_exposes": "3000", "limits_cpus": "1.5", "limits_memory": "2g", "tags": ["meeboter", "zoom"],
		"custom_docker_run_options": "--shm-size=2g", "max_restart_count": 0,
		"instant_deploy": false, "autogenerate_domain": false}`, reqs[0].body)
}

func TestCreateApplicationSendsOnlyWhatIsSet(t *testing.T) {
	t.Parallel()
	fake := newFakeCoolify(t)
	fake.on("POST /applications/dockerimage", r(201, createdJSON))
	c, _, _ := newTestClient(t, fake, Config{})
	tags := []string{"Meeboter"}
	_, err := c.CreateApplication(t.Context(), CreateApp{ProjectUUID: projectUUID, ServerUUID: serverUUID,
		EnvironmentUUID: "o8c0kwwc4sw8o8k4kgkg4o0c", Image: "ghcr.io/meeboter/bot", Tags: tags})
	require.NoError(t, err)
	require.JSONEq(t, `{"project_uuid": "`+projectUUID+`", "server_uuid": "`+serverUUID+`",
		"environment_uuid": "o8c0kwwc4sw8o8k4kgkg4o0c", "docker_registry_image_name": "ghcr.io/meeboter/bot",
		"tags": ["meeboter"], "instant_deploy": false, "autogenerate_domain": false}`, fake.requests()[0].body)
	require.Equal(t, []string{"Meeboter"}, tags, "the caller's slice is not modified")
}

func TestCreateApplicationChecksBeforeSending(t *testing.T) {
	t.Parallel()
	ok := CreateApp{ProjectUUID: "p", ServerUUID: "s", EnvironmentName: "production", Image: "i"}
	cases := map[string]func(a *CreateApp){
		"no project":     func(a *CreateApp) { a.ProjectUUID = "" },
		"no server":      func(a *CreateApp) { a.ServerUUID = "" },
		"no image":       func(a *CreateApp) { a.Image = "" },
		"no environment": func(a *CreateApp) { a.EnvironmentName = "" },
		"short tag":      func(a *CreateApp) { a.Tags = []string{"ok", " x "} },
	}
	fake := newFakeCoolify(t)
	c, _, _ := newTestClient(t, fake, Config{})
	for name, mutate := range cases {
		app := ok
		mutate(&app)
		_, err := c.CreateApplication(t.Context(), app)
		require.Error(t, err, name)
	}
	require.Empty(t, fake.requests())
}

func TestCreateApplicationWithoutUUID(t *testing.T) {
	t.Parallel()
	fake := newFakeCoolify(t)
	fake.on("POST /applications/dockerimage", r(201, `{}`))
	c, _, _ := newTestClient(t, fake, Config{})
	_, err := c.CreateApplication(t.Context(), CreateApp{ProjectUUID: "p", ServerUUID: "s", EnvironmentName: "e", Image: "i"})
	require.ErrorContains(t, err, "no uuid")
}

func TestGetApplication(t *testing.T) {
	t.Parallel()
	fake := newFakeCoolify(t)
	fake.on("GET /applications/"+appUUID, r(200, appJSON))
	c, _, _ := newTestClient(t, fake, Config{})
	app, err := c.GetApplication(t.Context(), appUUID)
	require.NoError(t, err)
	online := mustTime("2026-08-22T10:15:02Z")
	require.Equal(t, Application{
		UUID: appUUID, Name: "meeboter-slot-zoom-01", Description: "", Status: "running:unknown",
		Image: "ghcr.io/meeboter/bot", Tag: "1.4.2", PortsExposes: "3000", LimitsCPUs: "1.5", LimitsMemory: "2g",
		CustomDockerRunOptions: "--shm-size=2g", RestartCount: 2, MaxRestartCount: 0,
		LastOnlineAt: &online, ServerStatus: true,
		CreatedAt: mustTime("2026-08-22T09:58:11Z"), UpdatedAt: online,
	}, app)
	require.Empty(t, fake.requests()[0].body)
	require.Empty(t, fake.requests()[0].header.Get("Content-Type"), "no body, no Content-Type")
}

func TestGetApplicationEmptyUUID(t *testing.T) {
	t.Parallel()
	fake := newFakeCoolify(t)
	c, _, _ := newTestClient(t, fake, Config{})
	_, err := c.GetApplication(t.Context(), "")
	require.Error(t, err)
	_, err = c.Deployments(t.Context(), "", 1)
	require.Error(t, err)
	require.Error(t, c.StopApplication(t.Context(), ""))
	require.Empty(t, fake.requests())
}

func TestListApplications(t *testing.T) {
	t.Parallel()
	fake := newFakeCoolify(t)
	fake.on("GET /applications", r(200, appListJSON), r(200, `[]`))
	c, _, _ := newTestClient(t, fake, Config{})

	apps, err := c.ListApplications(t.Context(), " Meeboter-Pool ")
	require.NoError(t, err)
	require.Len(t, apps, 2)
	require.Equal(t, "meeboter-slot-zoom-01", apps[0].Name)
	require.Empty(t, apps[0].Tag, "null tag")
	require.Nil(t, apps[0].LastOnlineAt)
	require.Equal(t, "degraded:unhealthy", apps[1].Status)
	require.Equal(t, 3, apps[1].RestartCount)
	require.Equal(t, mustTime("2026-08-22T10:14:40Z"), *apps[1].LastRestartAt)

	apps, err = c.ListApplications(t.Context(), "")
	require.NoError(t, err)
	require.NotNil(t, apps)
	require.Empty(t, apps)

	reqs := fake.requests()
	require.Equal(t, url.Values{"tag": {"meeboter-pool"}}, reqs[0].query, "tags are stored lowercase")
	require.Empty(t, reqs[1].query)
}

func TestUpdateApplication(t *testing.T) {
	t.Parallel()
	fake := newFakeCoolify(t)
	fake.on("PATCH /applications/"+appUUID, r(200, updatedJSON))
	c, _, _ := newTestClient(t, fake, Config{})
	require.NoError(t, c.UpdateApplication(t.Context(), appUUID, AppPatch{}), "empty patch")
	require.Empty(t, fake.requests(), "an empty patch sends nothing")

	err := c.UpdateApplication(t.Context(), appUUID, AppPatch{
		Image: strPtr("ghcr.io/meeboter/bot"), Tag: strPtr("1.4.3"), LimitsMemory: strPtr("3g"),
		Description: strPtr(""), MaxRestartCount: intPtr(0),
	})
	require.NoError(t, err)
	reqs := fake.requests()
	require.Len(t, reqs, 1)
	require.Equal(t, "application/json", reqs[0].header.Get("Content-Type"))
	require.JSONEq(t, `{"docker_registry_image_name": "ghcr.io/meeboter/bot", "docker_registry_image_tag": "1.4.3",
		"limits_memory": "3g", "description": "", "max_restart_count": 0}`, reqs[0].body)
}

func TestDeleteApplication(t *testing.T) {
	t.Parallel()
	fake := newFakeCoolify(t)
	fake.on("DELETE /applications/"+appUUID, r(200, deleteQueuedJSON), r(404, appNotFoundNoDotJSON))
	c, _, _ := newTestClient(t, fake, Config{})
	require.NoError(t, c.DeleteApplication(t.Context(), appUUID))
	err := c.DeleteApplication(t.Context(), appUUID)
	require.True(t, IsNotFound(err), "%v", err)
	reqs := fake.requests()
	require.Len(t, reqs, 2, "a 404 is not retried")
	require.Equal(t, url.Values{
		"delete_configurations": {"true"}, "delete_volumes": {"true"},
		"docker_cleanup": {"false"}, "delete_connected_networks": {"true"},
	}, reqs[0].query)
}

func TestSetEnvs(t *testing.T) {
	t.Parallel()
	fake := newFakeCoolify(t)
	fake.on("PATCH /applications/"+appUUID+"/envs/bulk", r(201, envsBulkJSON))
	c, _, _ := newTestClient(t, fake, Config{})
	require.NoError(t, c.SetEnvs(t.Context(), appUUID, nil))
	require.Error(t, c.SetEnvs(t.Context(), appUUID, map[string]string{"OK": "1", "1BAD": "2"}))
	require.Error(t, c.SetEnvs(t.Context(), appUUID, map[string]string{"HAS SPACE": "2"}))
	require.Empty(t, fake.requests(), "nothing sent for no variables or a bad name")

	envs := map[string]string{"POOL_SLOT_UUID": "slot-1", "A_TOKEN": "p$ss'word", "CERT": "line1\nline2"}
	for range 2 {
		require.NoError(t, c.SetEnvs(t.Context(), appUUID, envs))
	}
	reqs := fake.requests()
	require.Len(t, reqs, 2)
	require.Equal(t, reqs[0].body, reqs[1].body, "deterministic")
	flags := `"is_preview": false, "is_literal": true, "is_shown_once": false, "is_runtime": true, "is_buildtime": false`
	require.JSONEq(t, `{"data": [
		{"key": "A_TOKEN", "value": "p$ss'word", "is_multiline": false, `+flags+`},
		{"key": "CERT", "value": "line1\nline2", "is_multiline": true, `+flags+`},
		{"key": "POOL_SLOT_UUID", "value": "slot-1", "is_multiline": false, `+flags+`}]}`, reqs[0].body)
}

func TestStartApplication(t *testing.T) {
	t.Parallel()
	fake := newFakeCoolify(t)
	fake.on("POST /applications/"+appUUID+"/start", r(200, startQueuedJSON), r(200, startSkippedJSON))
	c, _, _ := newTestClient(t, fake, Config{})
	id, err := c.StartApplication(t.Context(), appUUID)
	require.NoError(t, err)
	require.Equal(t, deployUUID, id)
	id, err = c.StartApplication(t.Context(), appUUID)
	require.NoError(t, err, "skipped is not an error")
	require.Empty(t, id)
	reqs := fake.requests()
	require.Empty(t, reqs[0].query, "no force, no instant_deploy")
	require.Empty(t, reqs[0].body)
}

func TestStopApplication(t *testing.T) {
	t.Parallel()
	fake := newFakeCoolify(t)
	fake.on("POST /applications/"+appUUID+"/stop", r(200, stopQueuedJSON))
	c, _, _ := newTestClient(t, fake, Config{})
	require.NoError(t, c.StopApplication(t.Context(), appUUID))
	require.Equal(t, url.Values{"docker_cleanup": {"false"}}, fake.requests()[0].query)
}

func TestDeployments(t *testing.T) {
	t.Parallel()
	fake := newFakeCoolify(t)
	fake.on("GET /deployments/applications/"+appUUID, r(200, deploymentsJSON), r(200, `{"count": 0, "deployments": []}`))
	c, _, _ := newTestClient(t, fake, Config{})
	ds, err := c.Deployments(t.Context(), appUUID, 2)
	require.NoError(t, err)
	finished := mustTime("2026-08-22T10:01:30Z")
	require.Equal(t, []Deployment{
		{UUID: deployUUID, Status: DeploymentInProgress, CreatedAt: mustTime("2026-08-22T10:20:00Z"),
			UpdatedAt: mustTime("2026-08-22T10:20:01Z")},
		{UUID: "c4g04wgsk0o8c8gksw8ocwkg", Status: DeploymentFinished, CreatedAt: mustTime("2026-08-22T09:59:00Z"),
			UpdatedAt: finished, FinishedAt: &finished},
	}, ds)
	require.False(t, ds[0].Done())
	require.True(t, ds[1].Done())

	ds, err = c.Deployments(t.Context(), appUUID, 0)
	require.NoError(t, err)
	require.NotNil(t, ds)
	require.Empty(t, ds)
	reqs := fake.requests()
	require.Equal(t, url.Values{"skip": {"0"}, "take": {"2"}}, reqs[0].query)
	require.Equal(t, url.Values{"skip": {"0"}, "take": {"10"}}, reqs[1].query)
}

func TestDeploymentDone(t *testing.T) {
	t.Parallel()
	for status, done := range map[string]bool{
		DeploymentQueued: false, DeploymentInProgress: false,
		DeploymentFinished: true, DeploymentFailed: true, DeploymentCancelled: true,
	} {
		require.Equal(t, done, Deployment{Status: status}.Done(), status)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	type is struct{ notFound, unauthorized, conflict, validation, rateLimited, server bool }
	cases := []struct {
		name    string
		reply   reply
		message string
		fields  map[string][]string
		is      is
	}{
		{"401", r(401, unauthenticatedJSON), "Unauthenticated.", nil, is{unauthorized: true}},
		{"403", r(403, forbiddenJSON), "Missing required permissions: deploy", nil, is{unauthorized: true}},
		{"404", r(404, `{"message": "Project not found."}`), "Project not found.", nil, is{notFound: true}},
		{"400 with detail", r(400, badContentTypeJSON), "Invalid request. (Content-Type must be application/json.)", nil, is{}},
		{"409", r(409, conflictJSON), "Domain conflicts detected. Use force_domain_override=true to proceed.", nil, is{conflict: true}},
		{"422 mixed", r(422, validationJSON), "Validation failed.", map[string][]string{
			"docker_registry_image_name": {"The docker registry image name field is required."},
			"destination_uuid":           {"Provided destination_uuid does not belong to the specified server."},
			"is_build_time":              {"This field is not allowed."},
		}, is{validation: true}},
		{"422 message only", r(422, `{"message": "You need to provide at least one of environment_name or environment_uuid."}`),
			"You need to provide at least one of environment_name or environment_uuid.", nil, is{validation: true}},
		{"429", r(429, tooManyJSON).with("Retry-After", "60"), "Too Many Attempts.", nil, is{rateLimited: true}},
		{"500", r(500, serverErrorJSON), "Server Error", nil, is{server: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := newFakeCoolify(t)
			fake.on("POST /applications/dockerimage", tc.reply)
			c, _, _ := newTestClient(t, fake, Config{MaxRetries: -1})
			_, err := c.CreateApplication(t.Context(), CreateApp{ProjectUUID: "p", ServerUUID: "s", EnvironmentName: "e", Image: "i"})
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			require.Equal(t, tc.reply.status, apiErr.StatusCode)
			require.Equal(t, "create_application", apiErr.Op)
			require.Equal(t, tc.message, apiErr.Message)
			require.Equal(t, tc.fields, apiErr.Fields)
			require.Equal(t, tc.is, is{IsNotFound(err), IsUnauthorized(err), IsConflict(err), IsValidation(err),
				IsRateLimited(err), IsServerError(err)})
			require.Len(t, fake.requests(), 1)
			require.NotContains(t, err.Error(), testToken)
			wrapped := fmt.Errorf("reconcile: %w", err)
			require.Equal(t, tc.is.notFound, IsNotFound(wrapped), "helpers see through wrapping")
		})
	}
}

func TestAPIErrorText(t *testing.T) {
	t.Parallel()
	e := newAPIError("create_application", 422, http.Header{}, []byte(validationJSON), time.Now())
	require.Equal(t, "coolify: create_application: 422 Validation failed. (destination_uuid: Provided destination_uuid "+
		"does not belong to the specified server.; docker_registry_image_name: The docker registry image name field is "+
		"required.; is_build_time: This field is not allowed.)", e.Error())
	e = newAPIError("get_application", 502, http.Header{"Retry-After": {"3"}},
		[]byte("<html>\n<head><title>502 Bad Gateway</title></head>\n</html>"), time.Now())
	require.Equal(t, "coolify: get_application: 502 <html> <head><title>502 Bad Gateway</title></head> </html> (retry after 3s)", e.Error())
	e = newAPIError("get_application", 503, http.Header{}, nil, time.Now())
	require.Equal(t, "Service Unavailable", e.Message)
	e = newAPIError("x", 422, http.Header{}, []byte(`{"message": "m", "errors": {"a": {"b": 1}, "c": []}}`), time.Now())
	require.Equal(t, map[string][]string{"a": {`{"b": 1}`}, "c": {}}, e.Fields)
	require.Equal(t, time.Duration(0), RetryAfter(io.EOF))
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 8, 22, 10, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"0":                             0,
		"7":                             7 * time.Second,
		" 60 ":                          time.Minute,
		"-5":                            0,
		"86400":                         maxRetryAfter,
		"Sat, 22 Aug 2026 10:00:30 GMT": 30 * time.Second,
		"Sat, 22 Aug 2026 09:00:00 GMT": 0,
		"soon":                          0,
	} {
		require.Equal(t, want, parseRetryAfter(v, now), v)
	}
}

func TestRetryAfter429(t *testing.T) {
	t.Parallel()
	fake := newFakeCoolify(t)
	fake.on("GET /applications/"+appUUID, r(429, tooManyJSON).with("Retry-After", "7"), r(200, appJSON))
	var seen []int
	var mu sync.Mutex
	c, clock, _ := newTestClient(t, fake, Config{OnRequest: func(op string, status int, d time.Duration) {
		require.Equal(t, "get_application", op)
		require.Positive(t, d)
		mu.Lock()
		seen = append(seen, status)
		mu.Unlock()
	}})
	_, err := c.GetApplication(t.Context(), appUUID)
	require.NoError(t, err)
	require.Equal(t, []time.Duration{7 * time.Second}, clock.Slept())
	require.Len(t, fake.requests(), 2)
	require.Equal(t, []int{429, 200}, seen)
}

// A 429 is answered by Coolify's throttle before anything happens, so even
// a create is retried.
func TestRetry429EvenForCreateAndStart(t *testing.T) {
	t.Parallel()
	fake := newFakeCoolify(t)
	fake.on("POST /applications/dockerimage", r(429, tooManyJSON).with("Retry-After", "2"), r(201, createdJSON))
	fake.on("POST /applications/"+appUUID+"/start", r(429, tooManyJSON), r(200, startQueuedJSON))
	c, clock, _ := newTestClient(t, fake, Config{})
	uuid, err := c.CreateApplication(t.Context(), CreateApp{ProjectUUID: "p", ServerUUID: "s", EnvironmentName: "e", Image: "i"})
	require.NoError(t, err)
	require.Equal(t, appUUID, uuid)
	id, err := c.StartApplication(t.Context(), appUUID)
	require.NoError(t, err)
	require.Equal(t, deployUUID, id)
	require.Len(t, fake.requests(), 4)
	slept := clock.Slept()
	require.Len(t, slept, 2)
	require.Equal(t, 2*time.Second, slept[0])
	require.GreaterOrEqual(t, slept[1], backoffBase/2, "no Retry-After: backoff")
	require.LessOrEqual(t, slept[1], backoffBase)
}

// One 429 pauses every call of the client, not only the one that got it.
func TestRateLimitPausesTheWholeClient(t *testing.T) {
	t.Parallel()
	fake := newFakeCoolify(t)
	fake.on("POST /applications/"+appUUID+"/stop", r(429, tooManyJSON).with("Retry-After", "30"))
	fake.on("GET /applications", r(200, `[]`))
	c, clock, _ := newTestClient(t, fake, Config{})
	short, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()

	// Retry-After outlasts the caller's deadline: Coolify's answer, no retry.
	err := c.StopApplication(short, appUUID)
	require.True(t, IsRateLimited(err))
	require.Equal(t, 30*time.Second, RetryAfter(err))
	require.Contains(t, err.Error(), "Too Many Attempts.")
	require.Empty(t, clock.Slept())

	// Another caller whose deadline ends before the pause fails at once, unsent.
	_, err = c.ListApplications(short, "")
	require.True(t, IsRateLimited(err), "%v", err)
	require.Equal(t, 30*time.Second, RetryAfter(err))
	require.Contains(t, err.Error(), "not sent")
	require.Len(t, fake.requests(), 1)

	// Another waits the pause out, then goes.
	_, err = c.ListApplications(t.Context(), "")
	require.NoError(t, err)
	require.Equal(t, []time.Duration{30 * time.Second}, clock.Slept())
	require.Len(t, fake.requests(), 2)
}

func TestRetryServerErrorsForIdempotentCalls(t *testing.T) {
	t.Parallel()
	fake := newFakeCoolify(t)
	a := "/applications/" + appUUID
	fake.on("GET "+a, r(500, serverErrorJSON), r(503, `{"message": "Service Unavailable"}`), r(200, appJSON))
	fake.on("POST "+a+"/stop", r(500, serverErrorJSON).with("Retry-After", "5"), r(200, stopQueuedJSON))
	c, clock, _ := newTestClient(t, fake, Config{})

	_, err := c.GetApplication(t.Context(), appUUID)
	require.NoError(t, err)
	slept := clock.Slept()
	require.Len(t, slept, 2)
	require.GreaterOrEqual(t, slept[0], backoffBase/2)
	require.LessOrEqual(t, slept[0], backoffBase)
	require.GreaterOrEqual(t, slept[1], backoffBase)
	require.LessOrEqual(t, slept[1], 2*backoffBase)

	require.NoError(t, c.StopApplication(t.Context(), appUUID))
	require.Equal(t, 5*time.Second, clock.Slept()[2], "Retry-After on a 5xx is honoured too")
	require.Len(t, fake.requests(), 5)
}

func TestRetriesEnd(t *testing.T) {
	t.Parallel()
	fake := newFakeCoolify(t)
	fake.on("PATCH /applications/"+appUUID, r(500, serverErrorJSON))
	c, _, _ := newTestClient(t, fake, Config{MaxRetries: 2})
	err := c.UpdateApplication(t.Context(), appUUID, AppPatch{Tag: strPtr("1")})
	require.True(t, IsServerError(err))
	require.Len(t, fake.requests(), 3)
}

// A retry that would outlast the caller's deadline is not attempted; the
// caller gets the server's error, not a deadline error.
func TestRetryStopsAtDeadline(t *testing.T) {
	t.Parallel()
	fake := newFakeCoolify(t)
	fake.on("GET /applications", r(503, `{"message": "Service Unavailable"}`).with("Retry-After", "120"))
	c, clock, _ := newTestClient(t, fake, Config{})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := c.ListApplications(ctx, "")
	require.True(t, IsServerError(err), "%v", err)
	require.Len(t, fake.requests(), 1)
	require.Empty(t, clock.Slept())
}

func TestNoRetryOfCreateAndStartAfterServerError(t *testing.T) {
	t.Parallel()
	fake := newFakeCoolify(t)
	fake.on("POST /applications/dockerimage", r(500, serverErrorJSON))
	fake.on("POST /applications/"+appUUID+"/start", r(500, serverErrorJSON))
	c, _, _ := newTestClient(t, fake, Config{})
	_, err := c.CreateApplication(t.Context(), CreateApp{ProjectUUID: "p", ServerUUID: "s", EnvironmentName: "e", Image: "i"})
	require.True(t, IsServerError(err))
	_, err = c.StartApplication(t.Context(), appUUID)
	require.True(t, IsServerError(err))
	require.Len(t, fake.requests(), 2, "the create or start may have happened: not repeated")
}

func TestTransportErrors(t *testing.T) {
	t.Parallel()
	fake := newFakeCoolify(t)
	fake.on("GET /applications/"+appUUID, r(-1, ""), r(200, appJSON))
	fake.on("POST /applications/"+appUUID+"/start", r(-1, ""), r(200, startQueuedJSON))
	c, clock, _ := newTestClient(t, fake, Config{})

	_, err := c.GetApplication(t.Context(), appUUID)
	require.NoError(t, err, "a dropped connection is retried for a read")
	require.Len(t, clock.Slept(), 1)

	_, err = c.StartApplication(t.Context(), appUUID)
	require.Error(t, err, "but not for a start")
	require.NotErrorAs(t, err, new(*APIError))
	require.NotContains(t, err.Error(), testToken)
	require.Len(t, fake.requests(), 3)
}

func TestCancelledContext(t *testing.T) {
	t.Parallel()
	fake := newFakeCoolify(t)
	c, _, _ := newTestClient(t, fake, Config{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := c.GetApplication(ctx, appUUID)
	require.ErrorIs(t, err, context.Canceled)
	require.Empty(t, fake.requests())
}

// The token bucket spaces calls: with a fake clock, no timing.
func TestRateLimiterSpacesCalls(t *testing.T) {
	t.Parallel()
	fake := newFakeCoolify(t)
	fake.on("GET /applications", r(200, `[]`))
	c, clock, _ := newTestClient(t, fake, Config{RatePerMinute: 60, Burst: 2})
	for range 5 {
		_, err := c.ListApplications(t.Context(), "")
		require.NoError(t, err)
	}
	require.Equal(t, []time.Duration{time.Second, time.Second, time.Second}, clock.Slept(),
		"2 at once (burst), then one a second")
}

// Every attempt spends a token, retries included.
func TestRetriesSpendTokens(t *testing.T) {
	t.Parallel()
	fake := newFakeCoolify(t)
	fake.on("GET /applications", r(500, serverErrorJSON), r(200, `[]`))
	lim := rate.NewLimiter(rate.Every(time.Hour), 2)
	c, _, _ := newTestClient(t, fake, Config{Limiter: lim})
	_, err := c.ListApplications(t.Context(), "")
	require.NoError(t, err)
	require.Less(t, lim.TokensAt(c.now()), 0.01)
}

// A wait for the bucket that would outlast the deadline fails at once with
// a local 429, and gives its token back.
func TestRateLimiterFailsFastAtDeadline(t *testing.T) {
	t.Parallel()
	fake := newFakeCoolify(t)
	fake.on("GET /applications", r(200, `[]`))
	lim := rate.NewLimiter(rate.Every(time.Hour), 1)
	c, clock, _ := newTestClient(t, fake, Config{Limiter: lim})
	_, err := c.ListApplications(t.Context(), "")
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, err = c.ListApplications(ctx, "")
	require.True(t, IsRateLimited(err), "%v", err)
	require.InDelta(t, time.Hour, RetryAfter(err), float64(time.Second))
	require.Len(t, fake.requests(), 1)
	require.Empty(t, clock.Slept())
	require.InDelta(t, 0, lim.TokensAt(c.now()), 0.01, "the reservation was cancelled")
}

func TestNewClient(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ raw, want string }{
		{"https://coolify.example.com", "https://coolify.example.com/api/v1"},
		{"https://coolify.example.com/", "https://coolify.example.com/api/v1"},
		{"https://coolify.example.com/api/v1", "https://coolify.example.com/api/v1"},
		{"http://10.0.0.5:8000/api/v1/", "http://10.0.0.5:8000/api/v1"},
		{" https://example.com/coolify/api/v1 ", "https://example.com/coolify/api/v1"},
		{"https://coolify.example.com/api", ""},
		{"https://coolify.example.com/api/v1?x=1", ""},
		{"coolify.example.com/api/v1", ""},
		{"ftp://coolify.example.com/api/v1", ""},
		{"", ""},
		{"https://coolify.example.com/dashboard/api/v2", ""},
	} {
		c, err := NewClient(Config{BaseURL: tc.raw, Token: testToken})
		if tc.want == "" {
			require.Error(t, err, tc.raw)
			continue
		}
		require.NoError(t, err, tc.raw)
		require.Equal(t, tc.want, c.base, tc.raw)
	}
	_, err := NewClient(Config{BaseURL: "https://coolify.example.com"})
	require.Error(t, err, "no token")
	_, err = NewClient(Config{BaseURL: "https://coolify.example.com", Token: testToken, RatePerMinute: -1})
	require.Error(t, err)

	c, err := NewClient(Config{BaseURL: "https://coolify.example.com", Token: testToken})
	require.NoError(t, err)
	require.Equal(t, rate.Limit(2.5), c.limiter.Limit())
	require.Equal(t, DefaultBurst, c.limiter.Burst())
	require.Equal(t, DefaultMaxRetries, c.maxRetries)
	c, err = NewClient(Config{BaseURL: "https://coolify.example.com", Token: testToken, RatePerMinute: 600, Burst: 1, MaxRetries: -1})
	require.NoError(t, err)
	require.Equal(t, rate.Limit(10), c.limiter.Limit())
	require.Equal(t, 1, c.limiter.Burst())
	require.Zero(t, c.maxRetries)
}

func TestTokenNeverShown(t *testing.T) {
	t.Parallel()
	cfg := Config{BaseURL: "https://coolify.example.com", Token: testToken}
	c, err := NewClient(cfg)
	require.NoError(t, err)
	for _, s := range []string{
		fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg),
		fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c),
	} {
		require.NotContains(t, s, testToken)
		require.NotContains(t, s, "s3cr3t")
	}
	// A transport error names the URL, never the header.
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	c, err = NewClient(Config{BaseURL: srv.URL, Token: testToken, MaxRetries: -1})
	require.NoError(t, err)
	_, err = c.GetApplication(t.Context(), appUUID)
	require.Error(t, err)
	require.NotContains(t, err.Error(), "s3cr3t")
}

// Off-contract answers (not Coolify's: a misconfigured URL) go through a
// plain client, since the contract transport would reject them.
func newPlainClient(t *testing.T, h http.Handler) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := NewClient(Config{BaseURL: srv.URL, Token: testToken, MaxRetries: -1})
	require.NoError(t, err)
	return c
}

func TestRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	var methods []string
	var mu sync.Mutex
	c := newPlainClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		methods = append(methods, r.Method)
		mu.Unlock()
		http.Redirect(w, r, "/login", http.StatusFound)
	}))
	_, err := c.CreateApplication(t.Context(), CreateApp{ProjectUUID: "p", ServerUUID: "s", EnvironmentName: "e", Image: "i"})
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, http.StatusFound, apiErr.StatusCode)
	require.Contains(t, apiErr.Message, "/login")
	require.Equal(t, []string{"POST"}, methods, "a POST is never replayed as a GET")
}

func TestHTMLAnswerExplained(t *testing.T) {
	t.Parallel()
	c := newPlainClient(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=UTF-8")
		_, _ = io.WriteString(w, "<!DOCTYPE html><title>Coolify</title>")
	}))
	_, err := c.ListApplications(t.Context(), "")
	require.ErrorContains(t, err, "not JSON")
	require.ErrorContains(t, err, "/api/v1")
}

func TestLaravelTimestamps(t *testing.T) {
	t.Parallel()
	want := time.Date(2026, 8, 22, 10, 15, 2, 0, time.UTC)
	for _, v := range []string{`"2026-08-22T10:15:02.000000Z"`, `"2026-08-22T10:15:02Z"`, `"2026-08-22 10:15:02"`,
		`"2026-08-22T12:15:02+02:00"`} {
		var a Application
		require.NoError(t, json.Unmarshal([]byte(`{"created_at": `+v+`, "last_online_at": `+v+`}`), &a), v)
		require.True(t, want.Equal(a.CreatedAt), v)
		require.True(t, want.Equal(*a.LastOnlineAt), v)
	}
	var a Application
	require.NoError(t, json.Unmarshal([]byte(`{"created_at": null, "last_online_at": null, "last_restart_at": ""}`), &a))
	require.True(t, a.CreatedAt.IsZero())
	require.Nil(t, a.LastOnlineAt)
	require.Nil(t, a.LastRestartAt)
	// A timestamp the client cannot read fails the decode rather than
	// becoming zero: a zero CreatedAt would make a new application look old
	// to garbage collection.
	require.Error(t, json.Unmarshal([]byte(`{"created_at": "yesterday"}`), &a))
	require.Error(t, json.Unmarshal([]byte(`{"created_at": 1755856502}`), &a))
	var d Deployment
	require.Error(t, json.Unmarshal([]byte(`{"finished_at": "soon"}`), &d))
}
