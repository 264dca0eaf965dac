package coolifysim

import (
	"net/http"
	"slices"
	"time"
)

// StopRecord is one application stop or delete that took effect, as the
// simulator saw it when the call came: which application, whether a
// container of it was running, and when GET /applications last failed
// before it. A chaos run compares these with the bots' states to prove
// nothing was stopped because a list call failed.
type StopRecord struct {
	At time.Time `json:"at"`
	// Op is "stop" (POST /applications/{uuid}/stop) or "delete".
	Op      string `json:"op"`
	AppUUID string `json:"app_uuid"`
	AppName string `json:"app_name"`
	// Status is the application's real status string at the call.
	Status string `json:"status"`
	// WasRunning: a container of the application was running (its
	// Workload ran, stopping ones included).
	WasRunning bool `json:"was_running"`
	// LastListFailure is when GET /applications last answered anything but
	// 200 (an injected 500, fail_lists, a 429) before this call; nil when it
	// never had.
	LastListFailure *time.Time `json:"last_list_failure,omitempty"`
}

// Route keys of the calls recorded as stops, and of the list.
const (
	routeStop   = "POST /applications/{uuid}/stop"
	routeDelete = "DELETE /applications/{uuid}"
	routeList   = "GET /applications"
)

// stopBefore captures a stop or delete call's target before the handler
// runs; nil for any other call or an unknown application. Call with s.mu
// held.
func (s *Sim) stopBefore(rt *route, rq *request) *StopRecord {
	op := map[string]string{routeStop: "stop", routeDelete: "delete"}[rt.key()]
	if op == "" {
		return nil
	}
	a := s.liveApp(rq.param("uuid"))
	if a == nil {
		return nil
	}
	rec := &StopRecord{At: s.now(), Op: op, AppUUID: a.uuid, AppName: a.name(), Status: a.realStatus()}
	for _, c := range a.containers() {
		rec.WasRunning = rec.WasRunning || c.state == cRunning || c.state == cStopping
	}
	if !s.lastListFailure.IsZero() {
		at := s.lastListFailure
		rec.LastListFailure = &at
	}
	return rec
}

// recordStop keeps rec when its call succeeded. Call with s.mu held.
func (s *Sim) recordStop(rec *StopRecord, rep reply) {
	if rec != nil && rep.status < http.StatusMultipleChoices {
		s.stops = append(s.stops, *rec)
	}
}

// noteListResult remembers a list call that failed. Call with s.mu held.
func (s *Sim) noteListResult(rt *route, rep reply) {
	if rt != nil && rt.key() == routeList && rep.status != http.StatusOK {
		s.lastListFailure = s.now()
	}
}

// Stops lists every application stop and delete that took effect, in order.
func (s *Sim) Stops() []StopRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.stops)
}
