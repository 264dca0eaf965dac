package operatorui

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// redactArgs rewrites riverui's job answers (GET …/api/jobs and
// …/api/jobs/{id}) so that a job of a kind in shown keeps only the listed
// args: an allow-list, as the CLI's, so a field added later stays hidden.
func redactArgs(shown map[string][]string, next http.Handler) http.Handler {
	if len(shown) == 0 {
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
			redactJobs(doc, shown)
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

// redactJobs walks a decoded answer and trims the args of every job object
// (one with "kind" and "args") of a kind in shown.
func redactJobs(v any, shown map[string][]string) {
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			redactJobs(e, shown)
		}
	case map[string]any:
		kind, _ := v["kind"].(string)
		if keep, ok := shown[kind]; ok {
			if _, has := v["args"]; has {
				v["args"] = trimArgs(v["args"], keep)
			}
			return
		}
		for _, e := range v {
			redactJobs(e, shown)
		}
	}
}

// trimArgs keeps only the keep fields of args: riverui sends a job's args
// as their JSON text in a string. Anything unreadable becomes "{}".
func trimArgs(args any, keep []string) string {
	text, _ := args.(string)
	var all map[string]json.RawMessage
	_ = json.Unmarshal([]byte(text), &all)
	trimmed := map[string]json.RawMessage{}
	for _, k := range keep {
		if a, present := all[k]; present {
			trimmed[k] = a
		}
	}
	out, _ := json.Marshal(trimmed)
	return string(out)
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
