package ecssim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
)

// targetPrefix is the awsJson1_1 service prefix of X-Amz-Target.
const targetPrefix = "AmazonEC2ContainerServiceV20141113."

// maxBody bounds request bodies (RunTask's overrides are limited to 8 KiB).
const maxBody = 1 << 20

// operation is one ECS API action.
type operation struct {
	// cat is the throttling category whose bucket the call draws from.
	cat    category
	handle func(s *Sim, body []byte) (any, *apiError)
}

// operations are the actions the simulator serves; any other target is
// answered UnknownOperationException.
var operations = map[string]operation{
	"RunTask":                {catModify, (*Sim).runTask},
	"StopTask":               {catModify, (*Sim).stopTask},
	"DescribeTasks":          {catRead, (*Sim).describeTasks},
	"ListTasks":              {catRead, (*Sim).listTasks},
	"DescribeClusters":       {catClusterRead, (*Sim).describeClusters},
	"ListClusters":           {catClusterRead, (*Sim).listClusters},
	"DescribeTaskDefinition": {catTaskDefRead, (*Sim).describeTaskDefinition},
	"ListTagsForResource":    {catTagRead, (*Sim).listTagsForResource},
}

// apiError is an ECS error: HTTP 400 for client faults, 500 for
// ServerException, body {"__type": code, "message": …}.
type apiError struct {
	status      int
	code        string
	message     string
	resourceIDs []string // ConflictException only
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func clientError(code, msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, message: msg}
}

func errInvalidParameter(format string, args ...any) *apiError {
	return clientError("InvalidParameterException", fmt.Sprintf(format, args...))
}

func errClusterNotFound() *apiError {
	return clientError("ClusterNotFoundException", "Cluster not found.")
}

func errThrottled() *apiError { return clientError("ThrottlingException", "Rate exceeded") }

func errServer() *apiError {
	return &apiError{status: http.StatusInternalServerError, code: "ServerException",
		message: "Service Unavailable. Please try again later."}
}

// Handler serves the ECS API on POST / and the simulator's control
// endpoints under /_sim/.
func (s *Sim) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

func (s *Sim) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_sim/") {
		s.serveControl(w, r)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		writeError(w, clientError("SerializationException", "request body could not be read"))
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		writeError(w, &apiError{status: http.StatusNotFound, code: "UnknownOperationException"})
		return
	}
	if aerr := s.authenticate(r, body); aerr != nil {
		s.set(func() {
			s.stats.authFailures++
			s.stats.errors[aerr.code]++
		})
		writeError(w, aerr)
		return
	}
	name, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	op, known := operations[name]
	if !ok || !known {
		writeError(w, &apiError{status: http.StatusBadRequest, code: "UnknownOperationException"})
		return
	}
	var (
		out  any
		aerr *apiError
	)
	s.set(func() { out, aerr = s.invoke(name, op, body) })
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// invoke runs one call with the throttles and injected faults. Call with
// s.mu held.
func (s *Sim) invoke(name string, op operation, body []byte) (any, *apiError) {
	s.stats.calls[name]++
	out, aerr := any(nil), s.failListCall(name)
	if aerr == nil {
		out, aerr = s.withFaults(op, body)
	}
	if aerr != nil {
		s.stats.errors[aerr.code]++
	}
	s.noteListResult(name, aerr)
	return out, aerr
}

func (s *Sim) withFaults(op operation, body []byte) (any, *apiError) {
	now := s.now()
	if now.Before(s.knobs.stormUntil) || (s.knobs.throttle && !s.buckets[op.cat].take(now, 1)) {
		s.stats.throttled++
		return nil, errThrottled()
	}
	if p := s.knobs.errorRate; p > 0 && s.rng.Float64() < p {
		s.stats.injected++
		return nil, errServer()
	}
	out, aerr := op.handle(s, body)
	// The "after" rate loses the answer of a call that took effect, as a
	// connection reset after commit would: what clientToken exists for.
	if p := s.knobs.errorAfterRate; aerr == nil && p > 0 && s.rng.Float64() < p {
		s.stats.injected++
		return nil, errServer()
	}
	return out, aerr
}

// decode parses a request body; an empty body is an empty object. Unknown
// members are ignored, as newer SDKs send members older services skip.
func decode(body []byte, v any) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return clientError("SerializationException",
				fmt.Sprintf("Unexpected value for %s", typeErr.Field))
		}
		return clientError("SerializationException", "Start of structure or map found where not expected.")
	}
	return nil
}

func setHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", requestID())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, errServer())
		return
	}
	setHeaders(w)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, e *apiError) {
	body := map[string]any{"__type": e.code}
	if e.message != "" {
		body["message"] = e.message
	}
	if e.resourceIDs != nil {
		body["resourceIds"] = e.resourceIDs
	}
	b, _ := json.Marshal(body)
	setHeaders(w)
	w.WriteHeader(e.status)
	_, _ = w.Write(b)
}

// requestID is an x-amzn-RequestId: a uuid, not reproducible from the seed
// (nothing depends on it).
func requestID() string {
	const hex = "0123456789abcdef"
	b := make([]byte, 36)
	for i := range b {
		switch i {
		case 8, 13, 18, 23:
			b[i] = '-'
		default:
			b[i] = hex[rand.IntN(16)]
		}
	}
	return string(b)
}
