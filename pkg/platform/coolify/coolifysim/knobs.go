package coolifysim

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"
)

var (
	errNoApp      = errors.New("no such application")
	errNotRunning = errors.New("application has no running container")
)

// knobs are the faults and latencies that can change at run time.
type knobs struct {
	errorRate      float64
	errorAfterRate float64
	stormUntil     time.Time
	failLists      int
	coldStart      time.Duration
	warmStart      time.Duration
	statusLag      time.Duration
}

// SetErrorRate makes a fraction p of API calls answer 500 {"message":"Server
// Error"} before doing anything.
func (s *Sim) SetErrorRate(p float64) { s.set(func() { s.knobs.errorRate = clamp01(p) }) }

// SetErrorAfterRate makes a fraction p of API calls take effect and still
// answer 500: the lost answer a proxy timeout or a crash after commit gives.
func (s *Sim) SetErrorAfterRate(p float64) { s.set(func() { s.knobs.errorAfterRate = clamp01(p) }) }

// Storm429 makes every API call answer 429 with Retry-After for d.
func (s *Sim) Storm429(d time.Duration) { s.set(func() { s.knobs.stormUntil = s.now().Add(d) }) }

// FailLists makes the next n GET /applications answer 500.
func (s *Sim) FailLists(n int) { s.set(func() { s.knobs.failLists = max(n, 0) }) }

// SetColdStart sets the latency of a start that pulls its image.
func (s *Sim) SetColdStart(d time.Duration) { s.set(func() { s.knobs.coldStart = max(d, 0) }) }

// SetWarmStart sets the latency of a start whose image is on the server.
func (s *Sim) SetWarmStart(d time.Duration) { s.set(func() { s.knobs.warmStart = max(d, 0) }) }

// SetStatusLag sets how far behind reality GET shows statuses.
func (s *Sim) SetStatusLag(d time.Duration) { s.set(func() { s.knobs.statusLag = max(d, 0) }) }

// CrashContainer makes the app's running container exit with exitCode, as
// an OOM kill or a segfault would: unless-stopped restarts it (restart_count
// grows) until max_restart_count, when Coolify stops it. A no-op when the app
// has no running container.
func (s *Sim) CrashContainer(uuid string, exitCode int) {
	s.set(func() { _ = s.crash(uuid, exitCode) })
}

// VanishContainer removes the app's container without a trace: no restart,
// the status becomes exited:unhealthy. A no-op without a container.
func (s *Sim) VanishContainer(uuid string) { s.set(func() { _ = s.vanish(uuid) }) }

// set runs fn under the lock after firing due events.
func (s *Sim) set(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
	fn()
}

func clamp01(p float64) float64 { return min(max(p, 0), 1) }

// AppSnapshot is an application as it really is (no status lag), for tests.
type AppSnapshot struct {
	UUID string `json:"uuid"`
	Name string `json:"name"`
	// Status is the real status string; ObservedStatus what GET shows now.
	Status         string   `json:"status"`
	ObservedStatus string   `json:"observed_status"`
	Running        bool     `json:"running"` // a Workload runs (stopping ones included)
	Image          string   `json:"image"`
	Tags           []string `json:"tags"`
	// Env is the production variables (what the next deployment uses).
	Env          map[string]string `json:"env"`
	RestartCount int               `json:"restart_count"`
	// Starts counts Workload launches, restarts included.
	Starts       int  `json:"starts"`
	LastExitCode *int `json:"last_exit_code"`
	Deleting     bool `json:"deleting"`
	Deleted      bool `json:"deleted"`
}

// Apps lists every application ever created, deleted ones last.
func (s *Sim) Apps() []AppSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
	live := slices.Collect(maps.Values(s.apps))
	slices.SortFunc(live, func(x, y *app) int { return x.id - y.id })
	out := make([]AppSnapshot, 0, len(live)+len(s.gone))
	for _, a := range append(live, s.gone...) {
		env := map[string]string{}
		for _, e := range a.envs {
			if !e.isPreview {
				env[e.key] = e.valueString()
			}
		}
		running := false
		for _, c := range a.containers() {
			running = running || c.state == cRunning || c.state == cStopping
		}
		out = append(out, AppSnapshot{UUID: a.uuid, Name: a.name(), Status: a.realStatus(),
			ObservedStatus: a.history.at(s.now().Add(-s.knobs.statusLag)).status, Running: running,
			Image: a.imageRef(), Tags: slices.Clone(a.tags), Env: env, RestartCount: a.restartCount,
			Starts: a.starts, LastExitCode: a.lastExitCode, Deleting: a.deleting, Deleted: a.deleted})
	}
	return out
}

// App is the snapshot of one application (deleted ones included).
func (s *Sim) App(uuid string) (AppSnapshot, bool) {
	for _, a := range s.Apps() {
		if a.UUID == uuid {
			return a, true
		}
	}
	return AppSnapshot{}, false
}

// Stats counts what the simulator saw.
type Stats struct {
	// Calls per endpoint, e.g. "GET /applications/{uuid}"; the catch-all is
	// "ANY /{any}".
	Calls map[string]int `json:"calls"`
	// Responses per status code.
	Responses map[int]int `json:"responses"`
	// Throttled is how many 429s were sent (rate limit and storms).
	Throttled int `json:"throttled"`
	// InjectedErrors is how many 500s the error knobs caused.
	InjectedErrors int `json:"injected_errors"`
	// Deployments is how many deployment rows were created.
	Deployments int `json:"deployments"`
	// InProgress and Queued are the deployments now in those states;
	// MaxInProgress the most ever in progress at once.
	InProgress    int `json:"in_progress"`
	Queued        int `json:"queued"`
	MaxInProgress int `json:"max_in_progress"`
	// WorkloadStarts counts Workload launches, restarts included.
	WorkloadStarts int `json:"workload_starts"`
}

type statsCounters struct {
	calls          map[string]int
	responses      map[int]int
	throttled      int
	injected       int
	deployments    int
	maxInProgress  int
	workloadStarts int
}

func newStatsCounters() statsCounters {
	return statsCounters{calls: map[string]int{}, responses: map[int]int{}}
}

// Stats returns a copy of the counters.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
	st := Stats{Calls: maps.Clone(s.stats.calls), Responses: maps.Clone(s.stats.responses),
		Throttled: s.stats.throttled, InjectedErrors: s.stats.injected, Deployments: s.stats.deployments,
		MaxInProgress: s.stats.maxInProgress, WorkloadStarts: s.stats.workloadStarts}
	for _, d := range s.deployments {
		switch d.status {
		case deployInProgress:
			st.InProgress++
		case deployQueued:
			st.Queued++
		}
	}
	return st
}

// knobsView is the JSON of /_sim/knobs: every field optional on POST.
type knobsView struct {
	ErrorRate       *float64 `json:"error_rate,omitempty"`
	ErrorAfterRate  *float64 `json:"error_after_rate,omitempty"`
	Storm429Seconds *float64 `json:"storm_429_seconds,omitempty"`
	FailLists       *int     `json:"fail_lists,omitempty"`
	ColdStartMS     *int64   `json:"cold_start_ms,omitempty"`
	WarmStartMS     *int64   `json:"warm_start_ms,omitempty"`
	StatusLagMS     *int64   `json:"status_lag_ms,omitempty"`
}

func (s *Sim) knobsNow() knobsView {
	storm := max(0, s.knobs.stormUntil.Sub(s.now()).Seconds())
	ms := func(d time.Duration) *int64 { v := d.Milliseconds(); return &v }
	return knobsView{ErrorRate: &s.knobs.errorRate, ErrorAfterRate: &s.knobs.errorAfterRate, Storm429Seconds: &storm,
		FailLists: &s.knobs.failLists, ColdStartMS: ms(s.knobs.coldStart), WarmStartMS: ms(s.knobs.warmStart),
		StatusLagMS: ms(s.knobs.statusLag)}
}

func (s *Sim) applyKnobs(k knobsView) {
	if k.ErrorRate != nil {
		s.knobs.errorRate = clamp01(*k.ErrorRate)
	}
	if k.ErrorAfterRate != nil {
		s.knobs.errorAfterRate = clamp01(*k.ErrorAfterRate)
	}
	if k.Storm429Seconds != nil {
		s.knobs.stormUntil = s.now().Add(time.Duration(*k.Storm429Seconds * float64(time.Second)))
	}
	if k.FailLists != nil {
		s.knobs.failLists = max(*k.FailLists, 0)
	}
	if k.ColdStartMS != nil {
		s.knobs.coldStart = max(time.Duration(*k.ColdStartMS)*time.Millisecond, 0)
	}
	if k.WarmStartMS != nil {
		s.knobs.warmStart = max(time.Duration(*k.WarmStartMS)*time.Millisecond, 0)
	}
	if k.StatusLagMS != nil {
		s.knobs.statusLag = max(time.Duration(*k.StatusLagMS)*time.Millisecond, 0)
	}
}

// serveControl serves the /_sim/ endpoints, behind the API token:
//
//	GET  /_sim/apps                 AppSnapshot list
//	GET  /_sim/stats                Stats
//	GET  /_sim/stops                StopRecord list: every stop and delete that took effect
//	GET  /_sim/knobs                current knobs
//	POST /_sim/knobs                {error_rate, error_after_rate, storm_429_seconds, fail_lists,
//	                                 cold_start_ms, warm_start_ms, status_lag_ms}, each optional
//	POST /_sim/apps/{uuid}/crash    {exit_code}
//	POST /_sim/apps/{uuid}/vanish
func (s *Sim) serveControl(w http.ResponseWriter, r *http.Request) {
	if !s.authenticated(r) {
		writeReply(w, r, message(http.StatusUnauthorized, "Unauthenticated."))
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/_sim/")
	switch {
	case path == "apps" && r.Method == http.MethodGet:
		writeReply(w, r, jsonReply(http.StatusOK, s.Apps()))
	case path == "stats" && r.Method == http.MethodGet:
		writeReply(w, r, jsonReply(http.StatusOK, s.Stats()))
	case path == "stops" && r.Method == http.MethodGet:
		writeReply(w, r, jsonReply(http.StatusOK, s.Stops()))
	case path == "knobs" && (r.Method == http.MethodGet || r.Method == http.MethodPost):
		var k knobsView
		if r.Method == http.MethodPost {
			if err := json.NewDecoder(r.Body).Decode(&k); err != nil {
				writeReply(w, r, message(http.StatusBadRequest, "invalid knobs: "+err.Error()))
				return
			}
		}
		var view knobsView
		s.set(func() {
			s.applyKnobs(k)
			view = s.knobsNow()
		})
		writeReply(w, r, jsonReply(http.StatusOK, view))
	case strings.HasPrefix(path, "apps/") && r.Method == http.MethodPost:
		uuid, action, _ := strings.Cut(strings.TrimPrefix(path, "apps/"), "/")
		var err error
		switch action {
		case "crash":
			var body struct {
				ExitCode int `json:"exit_code"`
			}
			if r.ContentLength != 0 {
				if derr := json.NewDecoder(r.Body).Decode(&body); derr != nil {
					writeReply(w, r, message(http.StatusBadRequest, "invalid body: "+derr.Error()))
					return
				}
			}
			s.set(func() { err = s.crash(uuid, body.ExitCode) })
		case "vanish":
			s.set(func() { err = s.vanish(uuid) })
		default:
			writeReply(w, r, notFound())
			return
		}
		switch {
		case errors.Is(err, errNoApp):
			writeReply(w, r, message(http.StatusNotFound, err.Error()))
		case err != nil:
			writeReply(w, r, message(http.StatusConflict, err.Error()))
		default:
			writeReply(w, r, message(http.StatusOK, "ok"))
		}
	default:
		writeReply(w, r, notFound())
	}
}
