package coolifysim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// maxBody bounds request bodies; Coolify's is PHP's post_max_size, far above
// anything the controller sends.
const maxBody = 8 << 20

// docsURL is what Coolify's catch-all 404 points at.
const docsURL = "https://coolify.io/docs"

// request is one API call as a handler sees it.
type request struct {
	r      *http.Request
	params map[string]string
	body   []byte
}

func (rq *request) param(name string) string { return rq.params[name] }

// query is a query parameter, or "" when absent.
func (rq *request) query(name string) string { return rq.r.URL.Query().Get(name) }

// hasQuery reports whether a query parameter was sent at all.
func (rq *request) hasQuery(name string) bool { return rq.r.URL.Query().Has(name) }

// replyKind says who renders a reply: controllers always answer JSON, Laravel
// renders its own exceptions according to the Accept header.
type replyKind int

const (
	// byController: response()->json(...), JSON whatever the client accepts.
	byController replyKind = iota
	// byFramework: a Laravel exception (429 throttle, 500): JSON only when the
	// request "expects JSON", HTML otherwise.
	byFramework
	// byValidate: a $request->validate() failure: 422 JSON when the request
	// expects JSON, else a 302 back to the previous page.
	byValidate
)

// reply is a handler's answer, written after the simulator's lock is
// released.
type reply struct {
	status      int
	body        any // marshalled as JSON unless contentType is set
	text        string
	contentType string
	header      http.Header
	kind        replyKind
}

func jsonReply(status int, body any) reply {
	return reply{status: status, body: body, kind: byController}
}

// message is Coolify's generic error (and success) shape {"message": ...}.
func message(status int, msg string) reply {
	return jsonReply(status, map[string]any{"message": msg})
}

func textReply(status int, text string) reply {
	return reply{status: status, text: text, contentType: "text/html; charset=UTF-8"}
}

// serverError is Laravel's 500 with APP_DEBUG off.
func serverError() reply {
	return reply{status: http.StatusInternalServerError, body: map[string]any{"message": "Server Error"}, kind: byFramework}
}

// notFound is the answer of Coolify's catch-all route `Route::any('/{any}')`,
// which also catches a wrong verb on an existing path.
func notFound() reply {
	return jsonReply(http.StatusNotFound, map[string]any{"message": "Not found.", "docs": docsURL})
}

// route is one /api/v1 endpoint.
type route struct {
	method, pattern string
	segs            []string
	handle          func(*Sim, *request) reply
}

func (rt *route) key() string { return rt.method + " " + rt.pattern }

// match returns the path parameters when path matches the route's pattern.
func (rt *route) match(path string) (map[string]string, bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if len(segs) != len(rt.segs) {
		return nil, false
	}
	params := map[string]string{}
	for i, p := range rt.segs {
		if name, ok := strings.CutPrefix(p, "{"); ok {
			if segs[i] == "" {
				return nil, false
			}
			v, err := url.PathUnescape(segs[i])
			if err != nil {
				return nil, false
			}
			params[strings.TrimSuffix(name, "}")] = v
			continue
		}
		if segs[i] != p {
			return nil, false
		}
	}
	return params, true
}

// routes are the simulated endpoints, in routes/api.php order where it
// matters (a literal segment before a parameter).
var routes = buildRoutes([]route{
	{method: http.MethodGet, pattern: "/version", handle: (*Sim).version},
	{method: http.MethodGet, pattern: "/applications", handle: (*Sim).listApplications},
	{method: http.MethodPost, pattern: "/applications/dockerimage", handle: (*Sim).createDockerImage},
	{method: http.MethodGet, pattern: "/applications/{uuid}", handle: (*Sim).getApplication},
	{method: http.MethodPatch, pattern: "/applications/{uuid}", handle: (*Sim).updateApplication},
	{method: http.MethodDelete, pattern: "/applications/{uuid}", handle: (*Sim).deleteApplication},
	{method: http.MethodGet, pattern: "/applications/{uuid}/envs", handle: (*Sim).listEnvs},
	{method: http.MethodPost, pattern: "/applications/{uuid}/envs", handle: (*Sim).createEnv},
	{method: http.MethodPatch, pattern: "/applications/{uuid}/envs/bulk", handle: (*Sim).bulkEnvs},
	{method: http.MethodPatch, pattern: "/applications/{uuid}/envs", handle: (*Sim).updateEnv},
	{method: http.MethodDelete, pattern: "/applications/{uuid}/envs/{env_uuid}", handle: (*Sim).deleteEnv},
	{method: http.MethodPost, pattern: "/applications/{uuid}/start", handle: (*Sim).startApplication},
	{method: http.MethodPost, pattern: "/applications/{uuid}/restart", handle: (*Sim).restartApplication},
	{method: http.MethodPost, pattern: "/applications/{uuid}/stop", handle: (*Sim).stopApplication},
	// v4.2.0 made lifecycle routes POST-only and left explicit GET stubs.
	{method: http.MethodGet, pattern: "/applications/{uuid}/start", handle: (*Sim).postOnly},
	{method: http.MethodGet, pattern: "/applications/{uuid}/restart", handle: (*Sim).postOnly},
	{method: http.MethodGet, pattern: "/applications/{uuid}/stop", handle: (*Sim).postOnly},
	{method: http.MethodGet, pattern: "/deployments", handle: (*Sim).listDeployments},
	{method: http.MethodGet, pattern: "/deployments/{uuid}", handle: (*Sim).getDeployment},
	{method: http.MethodPost, pattern: "/deployments/{uuid}/cancel", handle: (*Sim).cancelDeployment},
	{method: http.MethodGet, pattern: "/deployments/applications/{uuid}", handle: (*Sim).applicationDeployments},
})

func buildRoutes(rs []route) []*route {
	out := make([]*route, len(rs))
	for i := range rs {
		rt := rs[i]
		rt.segs = strings.Split(strings.Trim(rt.pattern, "/"), "/")
		out[i] = &rt
	}
	return out
}

// findRoute is Laravel's router for the simulated endpoints: method and path
// must both match, otherwise the catch-all answers.
func findRoute(method, path string) (*route, map[string]string) {
	if method == http.MethodHead {
		method = http.MethodGet
	}
	for _, rt := range routes {
		if rt.method != method {
			continue
		}
		if params, ok := rt.match(path); ok {
			return rt, params
		}
	}
	return nil, nil
}

// Handler serves /api/v1/... like Coolify, /api/health, and the /_sim/
// control endpoints.
func (s *Sim) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

func (s *Sim) serveHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case strings.HasPrefix(p, "/_sim/"):
		s.serveControl(w, r)
	case p == "/api/health" || p == "/api/v1/health":
		// Unauthenticated and not JSON: plain "OK".
		writeReply(w, r, textReply(http.StatusOK, "OK"))
	case p == "/api" || strings.HasPrefix(p, "/api/"):
		s.serveAPI(w, r)
	default:
		// The web UI lives here on a real instance.
		writeReply(w, r, textReply(http.StatusNotFound, "Not Found"))
	}
}

// serveAPI runs Coolify's middleware chain — auth:sanctum, then the api
// throttle (Laravel's middleware priority puts authentication first, so a 401
// carries no rate-limit headers), then the controller — under the lock, and
// writes the reply after releasing it.
func (s *Sim) serveAPI(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		writeReply(w, r, serverError())
		return
	}
	var rt *route
	var params map[string]string
	if rel, ok := strings.CutPrefix(r.URL.Path, "/api/v1"); ok {
		rt, params = findRoute(r.Method, rel)
	}

	s.mu.Lock()
	s.advance()
	key := "ANY /{any}"
	if rt != nil {
		key = rt.key()
	}
	s.stats.calls[key]++
	var rep reply
	switch {
	case rt == nil:
		// The catch-all is outside the auth group: throttled per IP.
		rep = s.throttled(clientIP(r), notFound)
	case !s.authenticated(r):
		rep = message(http.StatusUnauthorized, "Unauthenticated.")
	default:
		rq := &request{r: r, params: params, body: body}
		rep = s.throttled("user", func() reply { return s.withFaults(rt, rq) })
	}
	s.stats.responses[rep.status]++
	s.noteListResult(rt, rep)
	s.mu.Unlock()
	writeReply(w, r, rep)
}

// postOnly is the v4.2.0 stub answering GET on lifecycle routes.
func (s *Sim) postOnly(*request) reply {
	rep := message(http.StatusMethodNotAllowed, "This endpoint has changed to a POST request.")
	rep.header = http.Header{"Allow": {http.MethodPost}}
	return rep
}

// version is GET /version: the version as plain text, not JSON.
func (s *Sim) version(*request) reply { return textReply(http.StatusOK, coolifyVersion) }

// writeReply renders a reply the way Laravel would for this request.
func writeReply(w http.ResponseWriter, r *http.Request, rep reply) {
	for k, vs := range rep.header {
		w.Header()[k] = vs
	}
	if !expectsJSON(r) {
		switch rep.kind {
		case byFramework:
			rep = htmlError(rep)
		case byValidate:
			back := r.Header.Get("Referer")
			if back == "" {
				back = "/"
			}
			w.Header().Set("Location", back)
			rep = textReply(http.StatusFound, "")
		}
	}
	var payload []byte
	if rep.contentType != "" {
		w.Header().Set("Content-Type", rep.contentType)
		payload = []byte(rep.text)
	} else {
		w.Header().Set("Content-Type", "application/json")
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		// Laravel's json() escapes slashes but not HTML; Go escapes HTML. Both
		// are valid JSON, only raw bytes differ.
		enc.SetEscapeHTML(false)
		if err := enc.Encode(rep.body); err != nil {
			rep.status = http.StatusInternalServerError
			buf.Reset()
			buf.WriteString(`{"message":"Server Error"}`)
		}
		payload = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
	w.WriteHeader(rep.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(payload)
	}
}

// htmlError is Laravel's error page for a request that does not want JSON.
func htmlError(rep reply) reply {
	title := http.StatusText(rep.status)
	return textReply(rep.status, fmt.Sprintf("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>%s</title></head>"+
		"<body><div>%d | %s</div></body></html>\n", title, rep.status, title))
}

// expectsJSON is Laravel's Request::expectsJson(): an XHR that accepts
// anything, or a first acceptable type that is JSON.
func expectsJSON(r *http.Request) bool {
	types := acceptable(r.Header.Get("Accept"))
	first := ""
	if len(types) > 0 {
		first = types[0]
	}
	if r.Header.Get("X-Requested-With") == "XMLHttpRequest" && r.Header.Get("X-Pjax") == "" &&
		(first == "" || first == "*/*" || first == "*") {
		return true
	}
	return strings.Contains(first, "/json") || strings.Contains(first, "+json")
}

// acceptable lists the Accept header's media types, highest quality first.
func acceptable(header string) []string {
	type mt struct {
		name string
		q    float64
	}
	var list []mt
	for part := range strings.SplitSeq(header, ",") {
		fields := strings.Split(part, ";")
		name := strings.ToLower(strings.TrimSpace(fields[0]))
		if name == "" {
			continue
		}
		q := 1.0
		for _, f := range fields[1:] {
			if v, ok := strings.CutPrefix(strings.TrimSpace(f), "q="); ok {
				if x, err := strconv.ParseFloat(v, 64); err == nil {
					q = x
				}
			}
		}
		list = append(list, mt{name, q})
	}
	slices.SortStableFunc(list, func(a, b mt) int {
		switch {
		case a.q > b.q:
			return -1
		case a.q < b.q:
			return 1
		}
		return 0
	})
	out := make([]string, len(list))
	for i, m := range list {
		out[i] = m.name
	}
	return out
}

// clientIP keys the unauthenticated throttle bucket.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
