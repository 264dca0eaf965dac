package ecssim

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// knobsView is the JSON of /_sim/knobs: every field optional on POST.
type knobsView struct {
	ErrorRate                  *float64 `json:"error_rate,omitempty"`
	ErrorAfterRate             *float64 `json:"error_after_rate,omitempty"`
	ThrottleStormSeconds       *float64 `json:"throttle_storm_seconds,omitempty"`
	Throttle                   *bool    `json:"throttle,omitempty"`
	CapacityFailures           *int     `json:"capacity_failures,omitempty"`
	CapacityFailureReason      *string  `json:"capacity_failure_reason,omitempty"`
	CapacityUnavailableSeconds *float64 `json:"capacity_unavailable_seconds,omitempty"`
	CapacityAsError            *bool    `json:"capacity_as_error,omitempty"`
	StartFailures              *int     `json:"start_failures,omitempty"`
	StartFailureReason         *string  `json:"start_failure_reason,omitempty"`
	FailLists                  *int     `json:"fail_lists,omitempty"`
	ConsistencyLagMS           *int64   `json:"consistency_lag_ms,omitempty"`
	ProvisioningDelayMS        *int64   `json:"provisioning_delay_ms,omitempty"`
	PendingDelayMS             *int64   `json:"pending_delay_ms,omitempty"`
	ActivatingDelayMS          *int64   `json:"activating_delay_ms,omitempty"`
	StopDelayMS                *int64   `json:"stop_delay_ms,omitempty"`
}

func (s *Sim) knobsNow() knobsView {
	k := s.knobs
	left := func(until time.Time) *float64 { v := max(0, until.Sub(s.now()).Seconds()); return &v }
	ms := func(d time.Duration) *int64 { v := d.Milliseconds(); return &v }
	return knobsView{ErrorRate: &k.errorRate, ErrorAfterRate: &k.errorAfterRate,
		ThrottleStormSeconds: left(k.stormUntil), Throttle: &k.throttle,
		CapacityFailures: &k.capacityFailures, CapacityFailureReason: &k.capacityReason,
		CapacityUnavailableSeconds: left(k.capacityUnavailableUntil), CapacityAsError: &k.capacityAsError,
		StartFailures: &k.startFailures, StartFailureReason: &k.startFailureReason, FailLists: &k.failLists,
		ConsistencyLagMS: ms(k.consistencyLag), ProvisioningDelayMS: ms(k.delays.Provisioning),
		PendingDelayMS: ms(k.delays.Pending), ActivatingDelayMS: ms(k.delays.Activating), StopDelayMS: ms(k.delays.Stop)}
}

func (s *Sim) applyKnobs(v knobsView) {
	k := &s.knobs
	seconds := func(f float64) time.Duration { return time.Duration(f * float64(time.Second)) }
	ms := func(dst *time.Duration, v *int64) {
		if v != nil {
			*dst = max(time.Duration(*v)*time.Millisecond, 0)
		}
	}
	if v.ErrorRate != nil {
		k.errorRate = clamp01(*v.ErrorRate)
	}
	if v.ErrorAfterRate != nil {
		k.errorAfterRate = clamp01(*v.ErrorAfterRate)
	}
	if v.ThrottleStormSeconds != nil {
		k.stormUntil = s.now().Add(seconds(*v.ThrottleStormSeconds))
	}
	if v.Throttle != nil {
		k.throttle = *v.Throttle
	}
	if v.CapacityFailures != nil {
		k.capacityFailures = max(*v.CapacityFailures, 0)
	}
	if v.CapacityFailureReason != nil {
		k.capacityReason = *v.CapacityFailureReason
	}
	if v.CapacityUnavailableSeconds != nil {
		k.capacityUnavailableUntil = s.now().Add(seconds(*v.CapacityUnavailableSeconds))
	}
	if v.CapacityAsError != nil {
		k.capacityAsError = *v.CapacityAsError
	}
	if v.StartFailures != nil {
		k.startFailures = max(*v.StartFailures, 0)
	}
	if v.StartFailureReason != nil {
		k.startFailureReason = *v.StartFailureReason
	}
	if v.FailLists != nil {
		k.failLists = max(*v.FailLists, 0)
	}
	ms(&k.consistencyLag, v.ConsistencyLagMS)
	ms(&k.delays.Provisioning, v.ProvisioningDelayMS)
	ms(&k.delays.Pending, v.PendingDelayMS)
	ms(&k.delays.Activating, v.ActivatingDelayMS)
	ms(&k.delays.Stop, v.StopDelayMS)
}

// serveControl serves the /_sim/ endpoints, behind "Authorization: Bearer
// <SecretAccessKey>" (SigV4 is no fun with curl):
//
//	GET  /_sim/tasks                      TaskSnapshot list
//	GET  /_sim/stats                      Stats
//	GET  /_sim/stops                      StopRecord list: every StopTask that took effect
//	GET  /_sim/knobs                      current knobs
//	POST /_sim/knobs                      knobsView fields, each optional
//	POST /_sim/tasks/{id or ARN}/crash    {"exit_code": 137}
//	POST /_sim/tasks/{id or ARN}/vanish
//	POST /_sim/tasks/{id or ARN}/stop     {"stop_code", "reason"} (default: a Spot interruption)
func (s *Sim) serveControl(w http.ResponseWriter, r *http.Request) {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.SecretAccessKey)) != 1 {
		controlReply(w, http.StatusUnauthorized, map[string]string{"message": "Unauthenticated."})
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/_sim/")
	switch {
	case path == "tasks" && r.Method == http.MethodGet:
		controlReply(w, http.StatusOK, s.Tasks())
	case path == "stats" && r.Method == http.MethodGet:
		controlReply(w, http.StatusOK, s.Stats())
	case path == "stops" && r.Method == http.MethodGet:
		controlReply(w, http.StatusOK, s.Stops())
	case path == "knobs" && (r.Method == http.MethodGet || r.Method == http.MethodPost):
		var k knobsView
		if r.Method == http.MethodPost {
			if err := json.NewDecoder(r.Body).Decode(&k); err != nil {
				controlReply(w, http.StatusBadRequest, map[string]string{"message": "invalid knobs: " + err.Error()})
				return
			}
		}
		var view knobsView
		s.set(func() {
			s.applyKnobs(k)
			view = s.knobsNow()
		})
		controlReply(w, http.StatusOK, view)
	case strings.HasPrefix(path, "tasks/") && r.Method == http.MethodPost:
		s.controlTask(w, r, strings.TrimPrefix(path, "tasks/"))
	default:
		controlReply(w, http.StatusNotFound, map[string]string{"message": "Not found."})
	}
}

// controlTask serves POST /_sim/tasks/{ref}/{action}; ref may be an ARN,
// slashes and all.
func (s *Sim) controlTask(w http.ResponseWriter, r *http.Request, rest string) {
	i := strings.LastIndex(rest, "/")
	if i <= 0 {
		controlReply(w, http.StatusNotFound, map[string]string{"message": "Not found."})
		return
	}
	ref, action := rest[:i], rest[i+1:]
	var body struct {
		ExitCode int          `json:"exit_code"`
		StopCode TaskStopCode `json:"stop_code"`
		Reason   string       `json:"reason"`
	}
	if r.ContentLength != 0 {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			controlReply(w, http.StatusBadRequest, map[string]string{"message": "invalid body: " + err.Error()})
			return
		}
	}
	var err error
	switch action {
	case "crash":
		err = s.CrashTask(ref, body.ExitCode)
	case "vanish":
		err = s.VanishTask(ref)
	case "stop":
		if body.StopCode == "" {
			body.StopCode = types.TaskStopCodeSpotInterruption
		}
		if body.Reason == "" {
			body.Reason = "Your Spot Task was interrupted."
		}
		err = s.StopTaskExternally(ref, body.StopCode, body.Reason)
	default:
		controlReply(w, http.StatusNotFound, map[string]string{"message": "Not found."})
		return
	}
	switch {
	case errors.Is(err, errNoTask):
		controlReply(w, http.StatusNotFound, map[string]string{"message": err.Error()})
	case err != nil:
		controlReply(w, http.StatusConflict, map[string]string{"message": err.Error()})
	default:
		controlReply(w, http.StatusOK, map[string]string{"message": "ok"})
	}
}

func controlReply(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"message":"marshal failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
