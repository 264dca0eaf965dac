package operatorui

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/riverqueue/river/rivertype"
)

// View is what an operator may see of a job's args and errors (the
// composition root gives controllers.OperatorView, which meeboter jobs
// uses too).
type View func(kind string, args []byte, errs []rivertype.AttemptError) (json.RawMessage, []rivertype.AttemptError)

// redactJobs rewrites riverui's job answers (GET …/api/jobs and
// …/api/jobs/{id}) through view.
func redactJobs(view View, next http.Handler) http.Handler {
	if view == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, Prefix+"/api/jobs") {
			next.ServeHTTP(w, r)
			return
		}
		r.Header.Del("Accept-Encoding") // a body we can read
		rec := &recorder{header: http.Header{}, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		body := rec.body.Bytes()
		if rec.status == http.StatusOK {
			var doc any
			if err := json.Unmarshal(body, &doc); err != nil {
				http.Error(w, "operatorui: unreadable job answer", http.StatusBadGateway)
				return
			}
			viewJobs(doc, view)
			body, _ = json.Marshal(doc)
		}
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.status)
		_, _ = w.Write(body)
	})
}

// viewJobs walks a decoded answer and passes every job object (one with
// "kind" and "args", which riverui sends as JSON text in a string, and
// "errors" on a single job) through view.
func viewJobs(v any, view View) {
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			viewJobs(e, view)
		}
	case map[string]any:
		kind, isJob := v["kind"].(string)
		if args, hasArgs := v["args"].(string); isJob && hasArgs {
			var errs []rivertype.AttemptError
			if raw, err := json.Marshal(v["errors"]); err == nil {
				_ = json.Unmarshal(raw, &errs)
			}
			shown, shownErrs := view(kind, []byte(args), errs)
			v["args"] = string(shown)
			if _, hasErrs := v["errors"]; hasErrs {
				v["errors"] = shownErrs
			}
			return
		}
		for _, e := range v {
			viewJobs(e, view)
		}
	}
}

// recorder keeps a handler's answer for rewriting.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(status int)      { r.status = status }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
