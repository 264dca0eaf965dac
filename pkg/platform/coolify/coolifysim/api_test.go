package coolifysim

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAuthentication(t *testing.T) {
	t.Parallel()
	s, c := newSim(t, Config{RateLimitPerMinute: 100})
	for name, token := range map[string]string{"none": "", "wrong": "7|other", "other id": "8|test-secret"} {
		c.token = token
		r := c.call(http.MethodGet, "/applications", nil)
		require.Equal(t, http.StatusUnauthorized, r.status, name)
		require.JSONEq(t, `{"message":"Unauthenticated."}`, string(r.body), name)
		require.Empty(t, r.header.Get("X-RateLimit-Limit"), "authentication runs before the throttle")
	}

	// Sanctum finds a token without "<id>|" by its hash: the secret alone works.
	c.token = "test-secret"
	require.Equal(t, http.StatusOK, c.call(http.MethodGet, "/applications", nil).status)
	c.token = s.Token()
	r := c.call(http.MethodGet, "/applications", nil)
	require.Equal(t, http.StatusOK, r.status)
	require.JSONEq(t, `[]`, string(r.body))
	require.Equal(t, "100", r.header.Get("X-RateLimit-Limit"))

	// The catch-all route is outside the auth group.
	c.token = ""
	r = c.call(http.MethodGet, "/nothing/here", nil)
	require.Equal(t, http.StatusNotFound, r.status)
	require.JSONEq(t, `{"message":"Not found.","docs":"https://coolify.io/docs"}`, string(r.body))

	r = c.call(http.MethodGet, "/health", nil)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "OK", string(r.body))

	r = c.call(http.MethodGet, "/_sim/apps", nil)
	require.Equal(t, http.StatusUnauthorized, r.status, "the control endpoints want the token too")
}

func TestRoutingQuirks(t *testing.T) {
	t.Parallel()
	s, c := newSim(t, Config{})
	uuid := c.createApp(s, nil)

	for _, action := range []string{"start", "stop", "restart"} {
		r := c.call(http.MethodGet, "/applications/"+uuid+"/"+action, nil)
		require.Equal(t, http.StatusMethodNotAllowed, r.status, action)
		require.Equal(t, "POST", r.header.Get("Allow"))
		require.JSONEq(t, `{"message":"This endpoint has changed to a POST request."}`, string(r.body))
	}
	// A wrong verb on an existing path is the catch-all's 404, not a 405.
	for _, m := range []string{http.MethodPut, http.MethodPost} {
		r := c.call(m, "/applications/"+uuid, map[string]any{"name": "x"})
		require.Equal(t, http.StatusNotFound, r.status, m)
		require.Equal(t, "https://coolify.io/docs", r.object(t)["docs"])
	}
	// GET /applications/dockerimage is GET /applications/{uuid}.
	r := c.call(http.MethodGet, "/applications/dockerimage", nil)
	require.JSONEq(t, `{"message":"Application not found."}`, string(r.body))

	r = c.call(http.MethodGet, "/version", nil)
	require.Equal(t, http.StatusOK, r.status)
	require.Equal(t, "4.3.11", string(r.body))
	require.Contains(t, r.header.Get("Content-Type"), "text/html")
}

func TestRequestBodyChecks(t *testing.T) {
	t.Parallel()
	s, c := newSim(t, Config{})
	uuid := c.createApp(s, nil)
	for _, path := range []string{"/applications/dockerimage", "/applications/" + uuid, "/applications/" + uuid + "/envs/bulk"} {
		method := http.MethodPatch
		if path == "/applications/dockerimage" {
			method = http.MethodPost
		}
		r := c.call(method, path, `{"name":"x"}`, "Content-Type", "text/plain")
		require.Equal(t, http.StatusBadRequest, r.status, path)
		require.JSONEq(t, `{"message":"Invalid request.","error":"Content-Type must be application/json."}`, string(r.body))
		for _, body := range []string{`{not json`, `[]`, `0`, `""`} {
			r = c.call(method, path, body)
			require.Equal(t, http.StatusBadRequest, r.status, "%s %s", path, body)
			require.JSONEq(t, `{"message":"Invalid request.","error":"Invalid JSON."}`, string(r.body))
		}
		r = c.call(method, path, `{}`)
		require.JSONEq(t, `{"message":"Invalid request.","error":"Empty JSON."}`, string(r.body))
	}
}

func TestCreateValidation(t *testing.T) {
	t.Parallel()
	s, c := newSim(t, Config{})
	base := func(extra map[string]any) map[string]any {
		b := map[string]any{"project_uuid": s.Config().ProjectUUID, "server_uuid": s.Config().ServerUUID,
			"environment_name": "production", "docker_registry_image_name": "nginx"}
		for k, v := range extra {
			if v == nil {
				delete(b, k)
			} else {
				b[k] = v
			}
		}
		return b
	}
	cases := []struct {
		name   string
		body   map[string]any
		status int
		want   string
	}{
		{"unknown fields", base(map[string]any{"nope": 1, "is_build_time": true}), 422,
			`{"message":"Validation failed.","errors":{"is_build_time":["This field is not allowed."],"nope":["This field is not allowed."]}}`},
		{"wrong type", base(map[string]any{"name": 5}), 422,
			`{"message":"Validation failed.","errors":{"name":["The name field must be a string."]}}`},
		{"missing project", base(map[string]any{"project_uuid": nil}), 422,
			`{"message":"Validation failed.","errors":{"project_uuid":["The project uuid field is required."]}}`},
		{"no environment", base(map[string]any{"environment_name": nil}), 422,
			`{"message":"You need to provide at least one of environment_name or environment_uuid."}`},
		{"other project", base(map[string]any{"project_uuid": "x"}), 404, `{"message":"Project not found."}`},
		{"other environment", base(map[string]any{"environment_name": "staging"}), 404, `{"message":"Environment not found."}`},
		{"other server", base(map[string]any{"server_uuid": "x"}), 404, `{"message":"Server not found."}`},
		{"no image", base(map[string]any{"docker_registry_image_name": nil}), 422,
			`{"message":"Validation failed.","errors":{"docker_registry_image_name":["The docker registry image name field is required."]}}`},
		{"tag as digest", base(map[string]any{"docker_registry_image_name": "nginx:sha256:" + strings.Repeat("a", 64)}), 422, ""},
		{"bad ports", base(map[string]any{"ports_exposes": "80,x"}), 422,
			`{"message":"Validation failed.","errors":{"ports_exposes":["The ports exposes field format is invalid."]}}`},
		{"negative restart limit", base(map[string]any{"max_restart_count": -1}), 422,
			`{"message":"Validation failed.","errors":{"max_restart_count":["The max restart count field must be at least 0."]}}`},
		{"short tag", base(map[string]any{"tags": []string{"ok", " x "}}), 422, ""},
		{"bad domain", base(map[string]any{"domains": "ftp://x"}), 422,
			`{"message":"Validation failed.","errors":{"domains":"Invalid URL: ftp://x"}}`},
	}
	for _, tc := range cases {
		r := c.call(http.MethodPost, "/applications/dockerimage", tc.body)
		require.Equal(t, tc.status, r.status, "%s: %s", tc.name, r.body)
		if tc.want != "" {
			require.JSONEq(t, tc.want, string(r.body), tc.name)
		}
	}
	require.Empty(t, s.Apps(), "nothing was created")
}

func TestCreateAndRead(t *testing.T) {
	t.Parallel()
	s, c := newSim(t, Config{})
	body := map[string]any{"project_uuid": s.Config().ProjectUUID, "server_uuid": s.Config().ServerUUID,
		"environment_name": "production", "docker_registry_image_name": "ghcr.io/meeboter/bot:2.1",
		"tags": []string{"Meeboter", " pool-zoom "}, "limits_memory": "2g", "health_check_enabled": "0",
		"stop_grace_period": 5, "description": "   "}
	r := c.call(http.MethodPost, "/applications/dockerimage", body)
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	created := r.object(t)
	uuid := created["uuid"].(string)
	require.Regexp(t, `^[a-z0-9]{24}$`, uuid)
	require.Equal(t, "http://"+uuid+".127.0.0.1.sslip.io", created["domains"], "autogenerate_domain defaults to true")
	require.True(t, strings.HasPrefix(string(r.body), `{"uuid":`), "serializeApiResponse puts uuid first")

	r = c.call(http.MethodGet, "/applications/"+uuid, nil)
	require.Equal(t, http.StatusOK, r.status)
	a := r.object(t)
	require.Equal(t, uuid, a["uuid"])
	require.Regexp(t, `^docker-image-[a-z0-9]{24}$`, a["name"])
	require.Equal(t, "exited:unhealthy", a["status"])
	require.Equal(t, "dockerimage", a["build_pack"])
	require.Equal(t, "ghcr.io/meeboter/bot", a["docker_registry_image_name"], "the tag is split off the name")
	require.Equal(t, "2.1", a["docker_registry_image_tag"])
	require.Equal(t, "2g", a["limits_memory"])
	require.Equal(t, false, a["health_check_enabled"])
	require.Nil(t, a["description"], "blank strings become null")
	require.Nil(t, a["ports_exposes"])
	require.EqualValues(t, 10, a["max_restart_count"])
	require.EqualValues(t, 0, a["restart_count"])
	require.NotContains(t, a, "id")
	require.NotContains(t, a, "custom_labels", "hidden without read:sensitive")
	settings := a["settings"].(map[string]any)
	require.EqualValues(t, 5, settings["stop_grace_period"])
	require.Equal(t, []string{"meeboter", "pool-zoom"}, snapshot(t, s, uuid).Tags)

	r = c.call(http.MethodGet, "/applications/"+strings.Repeat("x", 24), nil)
	require.Equal(t, http.StatusNotFound, r.status)
	require.JSONEq(t, `{"message":"Application not found."}`, string(r.body))

	// Names are not unique; the list is ordered by name; tag filters.
	second := c.createApp(s, map[string]any{"name": "a-first", "tags": []string{"other"}})
	third := c.createApp(s, map[string]any{"name": "a-first"})
	var list []map[string]any
	c.call(http.MethodGet, "/applications", nil).decode(t, &list)
	require.Len(t, list, 3)
	require.Equal(t, []any{second, third, uuid}, []any{list[0]["uuid"], list[1]["uuid"], list[2]["uuid"]})
	require.NotContains(t, list[0], "settings")
	c.call(http.MethodGet, "/applications?tag=pool-zoom", nil).decode(t, &list)
	require.Len(t, list, 1)
	require.Equal(t, uuid, list[0]["uuid"])
	c.call(http.MethodGet, "/applications?tag=Pool-Zoom", nil).decode(t, &list)
	require.Empty(t, list, "tags are stored lowercase and matched exactly")
}

func TestDomainConflicts(t *testing.T) {
	t.Parallel()
	s, c := newSim(t, Config{})
	first := c.createApp(s, map[string]any{"domains": "https://bot.example.com"})
	body := map[string]any{"project_uuid": s.Config().ProjectUUID, "server_uuid": s.Config().ServerUUID,
		"environment_name": "production", "docker_registry_image_name": "nginx", "domains": "https://bot.example.com"}
	r := c.call(http.MethodPost, "/applications/dockerimage", body)
	require.Equal(t, http.StatusConflict, r.status)
	conflict := r.object(t)
	require.Equal(t, "Domain conflicts detected. Use force_domain_override=true to proceed.", conflict["message"])
	require.Equal(t, first, conflict["conflicts"].([]any)[0].(map[string]any)["resource_uuid"])

	body["force_domain_override"] = true
	require.Equal(t, http.StatusCreated, c.call(http.MethodPost, "/applications/dockerimage", body).status)
}

func TestUpdateApplication(t *testing.T) {
	t.Parallel()
	s, c := newSim(t, Config{})
	uuid := c.createApp(s, nil)

	r := c.call(http.MethodPatch, "/applications/"+uuid, map[string]any{"name": "renamed",
		"docker_registry_image_tag": "2.0", "max_restart_count": 0, "limits_cpus": "1.5", "is_force_https_enabled": false})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.JSONEq(t, `{"uuid":"`+uuid+`"}`, string(r.body))
	a := c.call(http.MethodGet, "/applications/"+uuid, nil).object(t)
	require.Equal(t, "renamed", a["name"])
	require.Equal(t, "2.0", a["docker_registry_image_tag"])
	require.EqualValues(t, 0, a["max_restart_count"])
	require.Equal(t, false, a["settings"].(map[string]any)["is_force_https_enabled"])
	require.Equal(t, "ghcr.io/meeboter/bot:2.0", snapshot(t, s, uuid).Image)

	// The spec lists these in the PATCH body; the code refuses them.
	r = c.call(http.MethodPatch, "/applications/"+uuid, map[string]any{"project_uuid": "x", "tags": []string{"a"}})
	require.Equal(t, http.StatusUnprocessableEntity, r.status)
	require.JSONEq(t, `{"message":"Validation failed.","errors":{"project_uuid":["This field is not allowed."],"tags":["This field is not allowed."]}}`, string(r.body))

	r = c.call(http.MethodPatch, "/applications/"+strings.Repeat("z", 24), map[string]any{"name": "x"})
	require.Equal(t, http.StatusNotFound, r.status)
	require.JSONEq(t, `{"message":"Application not found"}`, string(r.body), "no period on PATCH")
}

func TestEnvironmentVariables(t *testing.T) {
	t.Parallel()
	s, c := newSim(t, Config{})
	uuid := c.createApp(s, nil)
	path := "/applications/" + uuid + "/envs"

	r := c.call(http.MethodPatch, path+"/bulk", map[string]any{"data": []map[string]any{
		{"key": "BOT_ID", "value": "b1", "is_preview": false, "ignored_field": 1},
		{"key": "TOKEN", "value": "secret", "is_preview": false, "is_runtime": true},
		{"key": "BUILD_ONLY", "value": "x", "is_runtime": false},
	}})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	var rows []map[string]any
	r.decode(t, &rows)
	require.Len(t, rows, 3)
	for _, row := range rows {
		require.NotContains(t, row, "value", "values are hidden without read:sensitive")
		require.NotContains(t, row, "real_value")
		require.Equal(t, false, row["is_preview"])
	}

	// Every production variable has a preview twin; production rows first.
	c.call(http.MethodGet, path, nil).decode(t, &rows)
	require.Len(t, rows, 6)
	var keys []string
	for _, row := range rows {
		keys = append(keys, row["key"].(string)+map[bool]string{true: "/preview", false: ""}[row["is_preview"].(bool)])
	}
	require.Equal(t, []string{"BOT_ID", "TOKEN", "BUILD_ONLY", "BOT_ID/preview", "TOKEN/preview", "BUILD_ONLY/preview"}, keys)

	// An update changes one row; the twin keeps the old value.
	c.setEnv(uuid, map[string]string{"BOT_ID": "b2"})
	require.Equal(t, map[string]string{"BOT_ID": "b2", "TOKEN": "secret", "BUILD_ONLY": "x"}, snapshot(t, s, uuid).Env)
	c.call(http.MethodGet, path, nil).decode(t, &rows)
	require.Len(t, rows, 6, "an upsert of an existing key adds nothing")

	// No transaction: the first item is written, the second refused.
	r = c.call(http.MethodPatch, path+"/bulk", map[string]any{"data": []map[string]any{
		{"key": "FIRST", "value": "1"}, {"key": "2BAD", "value": "2"}}})
	require.Equal(t, http.StatusUnprocessableEntity, r.status)
	require.JSONEq(t, `{"message":"Validation failed.","errors":{"key":["The key field format is invalid."]}}`, string(r.body))
	require.Equal(t, "1", snapshot(t, s, uuid).Env["FIRST"])

	for _, body := range []map[string]any{{"data": []any{}}, {"other": 1}} {
		r = c.call(http.MethodPatch, path+"/bulk", body)
		require.Equal(t, http.StatusBadRequest, r.status)
		require.JSONEq(t, `{"message":"Bulk data is required."}`, string(r.body))
	}

	// Single create, update (201, by key) and delete.
	r = c.call(http.MethodPost, path, map[string]any{"key": "SINGLE", "value": "v"})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	single := r.object(t)["uuid"].(string)
	r = c.call(http.MethodPost, path, map[string]any{"key": "SINGLE", "value": "v"})
	require.Equal(t, http.StatusConflict, r.status)
	r = c.call(http.MethodPatch, path, map[string]any{"key": "SINGLE", "value": "w"})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	require.Equal(t, "SINGLE", r.object(t)["key"])
	r = c.call(http.MethodPatch, path, map[string]any{"key": "MISSING", "value": "w"})
	require.Equal(t, http.StatusNotFound, r.status)
	require.JSONEq(t, `{"message":"Environment variable not found."}`, string(r.body))
	r = c.call(http.MethodDelete, path+"/"+single, nil)
	require.Equal(t, http.StatusOK, r.status)
	require.JSONEq(t, `{"message":"Environment variable deleted."}`, string(r.body))
	require.NotContains(t, snapshot(t, s, uuid).Env, "SINGLE")

	r = c.call(http.MethodGet, "/applications/"+strings.Repeat("q", 24)+"/envs", nil)
	require.JSONEq(t, `{"message":"Application not found"}`, string(r.body))
}
