package coolifysim

import (
	"time"
)

// Application status strings as the API shows them (coolify-api.md §4): the
// model's accessor always answers "<state>:<health>".
const (
	statusExited     = "exited:unhealthy"   // no container (new, stopped, deleted, vanished)
	statusRunning    = "running:unknown"    // running, no Docker HEALTHCHECK
	statusHealthy    = "running:healthy"    // running with Coolify's health check (always passes here)
	statusRestarting = "restarting:unknown" // Docker is about to restart it (unless-stopped backoff)
	statusDegraded   = "degraded:unhealthy" // crash loop: exited with restarts, or running + exited
	statusStarting   = "starting:unknown"   // created, or running next to a created one
)

// realStatus is what ContainerStatusAggregator (with preserveRestarting, as
// for applications) makes of the app's containers right now.
func (a *app) realStatus() string {
	var running, restarting, exited, starting, healthy bool
	restarts := 0
	for _, c := range a.containers() {
		switch c.state {
		case cCreated:
			starting = true
		case cRunning, cStopping:
			running = true
			healthy = healthy || c.healthcheck
		case cRestarting:
			restarting = true
		case cExited:
			exited = true
		}
		restarts = max(restarts, c.restarts)
	}
	switch {
	case restarting:
		return statusRestarting
	case exited && restarts > 0, running && exited:
		return statusDegraded
	case running && starting:
		return statusStarting
	case running && healthy:
		return statusHealthy
	case running:
		return statusRunning
	case starting:
		return statusStarting
	}
	return statusExited
}

// containers are the app's containers that exist on the server.
func (a *app) containers() []*container {
	var out []*container
	for _, c := range []*container{a.cur, a.next} {
		if c != nil && c.state != cRemoved {
			out = append(out, c)
		}
	}
	return out
}

// observation is what Coolify's status job writes on the application row.
type observation struct {
	at              time.Time
	status          string
	restartCount    int
	lastRestartAt   time.Time
	lastRestartType string
}

func (o observation) same(p observation) bool {
	return o.status == p.status && o.restartCount == p.restartCount &&
		o.lastRestartAt.Equal(p.lastRestartAt) && o.lastRestartType == p.lastRestartType
}

// statusHistory is an application's observations over time, so GET can show
// them as of now-StatusLag: Coolify's status only follows reality at the
// pace of Sentinel pushes and status jobs.
type statusHistory []observation

// statusHistoryKeep is how far back observations are kept beyond the lag,
// so raising the lag at run time still finds a past.
const statusHistoryKeep = 10 * time.Minute

// record appends o if anything changed, dropping what no lag needs.
func (h *statusHistory) record(o observation, lag time.Duration) {
	if n := len(*h); n > 0 && (*h)[n-1].same(o) {
		return
	}
	*h = append(*h, o)
	horizon := o.at.Add(-lag - statusHistoryKeep)
	drop := 0
	for drop+1 < len(*h) && !(*h)[drop+1].at.After(horizon) {
		drop++
	}
	*h = (*h)[drop:]
}

// at is the observation in force at t: the last one recorded at or before
// t, else the first (the row's initial state).
func (h statusHistory) at(t time.Time) observation {
	if len(h) == 0 {
		return observation{status: statusExited}
	}
	found := h[0]
	for _, o := range h {
		if o.at.After(t) {
			break
		}
		found = o
	}
	return found
}

// recordStatus records the app's current state; call after every change.
func (s *Sim) recordStatus(a *app) {
	a.history.record(observation{at: s.now(), status: a.realStatus(), restartCount: a.restartCount,
		lastRestartAt: a.lastRestartAt, lastRestartType: a.lastRestartType}, s.knobs.statusLag)
}
