package coolifysim

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// envVar is an environment_variables row of an application.
type envVar struct {
	id          int
	uuid        string
	key         string
	value       *string
	isPreview   bool
	isLiteral   bool
	isMultiline bool
	isShownOnce bool
	isRuntime   bool
	isBuildtime bool
	comment     *string
	created     time.Time
	updated     time.Time
}

func (e *envVar) valueString() string {
	if e.value == nil {
		return ""
	}
	return *e.value
}

// envJSON is a row as the API shows it to a token without read:sensitive:
// value and real_value are left out.
func envJSON(e *envVar) apiObject {
	return apiObject{
		"uuid": e.uuid, "key": e.key, "is_literal": e.isLiteral, "is_multiline": e.isMultiline,
		"is_preview": e.isPreview, "is_runtime": e.isRuntime, "is_buildtime": e.isBuildtime, "is_shared": false,
		"is_shown_once": e.isShownOnce, "is_required": false, "is_really_required": false,
		"is_buildpack_control": false, "is_coolify": false, "comment": e.comment, "version": coolifyVersion,
		"order": nil, "created_at": laravelTime(e.created), "updated_at": laravelTime(e.updated),
	}
}

// envFields are the accepted fields of an env item, with their rules.
var envFields = map[string]kind{
	"key": kString, "value": kStringNull, "is_preview": kBool, "is_literal": kBool, "is_multiline": kBool,
	"is_shown_once": kBool, "is_runtime": kBool, "is_buildtime": kBool, "comment": kStringNull,
}

// envInput is one validated env item.
type envInput struct {
	key     string
	value   *string
	flags   map[string]bool // only the flags sent
	comment *string
	hasCmt  bool
}

// parseEnvItem validates an env item; unknown fields are dropped (bulk) or
// refused (create, update).
func parseEnvItem(item map[string]any, refuseUnknown, valueRequired bool) (envInput, validationErrors) {
	ve := validationErrors{}
	if refuseUnknown {
		notAllowed(item, func(name string) bool { _, ok := envFields[name]; return ok }, ve)
	}
	in := envInput{flags: map[string]bool{}}
	for _, name := range sortedKeys(item) {
		k, ok := envFields[name]
		if !ok {
			continue
		}
		v, msg := coerce(name, k, item[name])
		if msg != "" {
			ve.add(name, msg)
			continue
		}
		switch name {
		case "key":
			in.key = strings.ReplaceAll(str(v), " ", "_")
		case "value":
			if v != nil {
				s := v.(string)
				in.value = &s
			}
		case "comment":
			in.hasCmt = true
			if v != nil {
				c := v.(string)
				if len([]rune(c)) > 256 {
					ve.add("comment", "The comment field must not be greater than 256 characters.")
				}
				in.comment = &c
			}
		default:
			in.flags[name] = v.(bool)
		}
	}
	switch {
	case item["key"] == nil:
		delete(ve, "key")
		ve.add("key", "The key field is required.")
	case in.key != "" && (!envKeyRe.MatchString(in.key) || len(in.key) > 255):
		ve.add("key", "The key field format is invalid.")
	}
	if valueRequired {
		if _, ok := item["value"]; !ok {
			ve.add("value", "The value field is required.")
		}
	}
	return in, ve
}

// findEnv is the row of key in the preview or the production scope.
func (a *app) findEnv(key string, preview bool) *envVar {
	for _, e := range a.envs {
		if e.key == key && e.isPreview == preview {
			return e
		}
	}
	return nil
}

// upsertEnv writes one item: update in its scope, or create it — creating a
// production variable also creates its preview twin (a model hook), unless
// one exists.
func (s *Sim) upsertEnv(a *app, in envInput) *envVar {
	now := s.now()
	preview := in.flags["is_preview"]
	if e := a.findEnv(in.key, preview); e != nil {
		applyEnvInput(e, in)
		e.updated = now
		return e
	}
	e := s.newEnv(a, in, preview)
	if !preview && a.findEnv(in.key, true) == nil {
		s.newEnv(a, in, true)
	}
	return e
}

func (s *Sim) newEnv(a *app, in envInput, preview bool) *envVar {
	now := s.now()
	e := &envVar{id: s.id("environment_variables"), uuid: randomID(s.rng), key: in.key, isPreview: preview,
		isRuntime: true, isBuildtime: true, created: now, updated: now}
	applyEnvInput(e, in)
	e.isPreview = preview
	a.envs = append(a.envs, e)
	return e
}

func applyEnvInput(e *envVar, in envInput) {
	e.value = in.value
	if in.hasCmt {
		e.comment = in.comment
	}
	for name, v := range in.flags {
		switch name {
		case "is_literal":
			e.isLiteral = v
		case "is_multiline":
			e.isMultiline = v
		case "is_shown_once":
			e.isShownOnce = v
		case "is_runtime":
			e.isRuntime = v
		case "is_buildtime":
			e.isBuildtime = v
		}
	}
}

// listEnvs is GET /applications/{uuid}/envs: production rows by id, then
// the preview rows.
func (s *Sim) listEnvs(rq *request) reply {
	a := s.liveApp(rq.param("uuid"))
	if a == nil {
		return message(http.StatusNotFound, "Application not found")
	}
	rows := slices.Clone(a.envs)
	slices.SortStableFunc(rows, func(x, y *envVar) int {
		if x.isPreview != y.isPreview {
			if x.isPreview {
				return 1
			}
			return -1
		}
		return x.id - y.id
	})
	out := make([]apiObject, len(rows))
	for i, e := range rows {
		out[i] = envJSON(e)
	}
	return jsonReply(http.StatusOK, out)
}

// bulkEnvs is PATCH /applications/{uuid}/envs/bulk: an upsert per item, no
// deletes, no transaction — an invalid item answers 422 after the earlier
// ones were written. 201 with the rows written.
func (s *Sim) bulkEnvs(rq *request) reply {
	body, bad := rq.jsonBody()
	if bad != nil {
		return *bad
	}
	a := s.liveApp(rq.param("uuid"))
	if a == nil {
		return message(http.StatusNotFound, "Application not found")
	}
	data, _ := body["data"].([]any)
	if len(data) == 0 {
		return message(http.StatusBadRequest, "Bulk data is required.")
	}
	out := []apiObject{}
	for i, raw := range data {
		item, ok := raw.(map[string]any)
		if !ok {
			return validationErrors{"data": {fmt.Sprintf("The data.%d field must be an array.", i)}}.reply()
		}
		in, ve := parseEnvItem(item, false, false)
		if len(ve) > 0 {
			return ve.reply()
		}
		out = append(out, envJSON(s.upsertEnv(a, in)))
	}
	a.updated = s.now()
	return jsonReply(http.StatusCreated, out)
}

// createEnv is POST /applications/{uuid}/envs (no validateIncomingRequest).
func (s *Sim) createEnv(rq *request) reply {
	a := s.liveApp(rq.param("uuid"))
	if a == nil {
		return message(http.StatusNotFound, "Application not found")
	}
	in, ve := parseEnvItem(rq.input(), true, false)
	if len(ve) > 0 {
		return ve.reply()
	}
	if a.findEnv(in.key, in.flags["is_preview"]) != nil {
		return message(http.StatusConflict, "Environment variable already exists. Use PATCH request to update it.")
	}
	e := s.upsertEnv(a, in)
	return jsonReply(http.StatusCreated, apiObject{"uuid": e.uuid})
}

// updateEnv is PATCH /applications/{uuid}/envs: by key in its scope, no
// upsert; omitted is_literal resets to false. 201, not 200.
func (s *Sim) updateEnv(rq *request) reply {
	body, bad := rq.jsonBody()
	if bad != nil {
		return *bad
	}
	a := s.liveApp(rq.param("uuid"))
	if a == nil {
		return message(http.StatusNotFound, "Application not found")
	}
	in, ve := parseEnvItem(body, true, true)
	if len(ve) > 0 {
		return ve.reply()
	}
	e := a.findEnv(in.key, in.flags["is_preview"])
	if e == nil {
		return message(http.StatusNotFound, "Environment variable not found.")
	}
	if _, ok := in.flags["is_literal"]; !ok {
		in.flags["is_literal"] = false
	}
	applyEnvInput(e, in)
	e.updated = s.now()
	return jsonReply(http.StatusCreated, envJSON(e))
}

// deleteEnv is DELETE /applications/{uuid}/envs/{env_uuid}: that row only;
// a twin survives.
func (s *Sim) deleteEnv(rq *request) reply {
	a := s.liveApp(rq.param("uuid"))
	if a == nil {
		return message(http.StatusNotFound, "Application not found.")
	}
	i := slices.IndexFunc(a.envs, func(e *envVar) bool { return e.uuid == rq.param("env_uuid") })
	if i < 0 {
		return message(http.StatusNotFound, "Environment variable not found.")
	}
	a.envs = slices.Delete(a.envs, i, i+1)
	return message(http.StatusOK, "Environment variable deleted.")
}
