package coolify

import "strings"

// Application states and healths, the two halves of Application.Status.
const (
	StateRunning    = "running"
	StateExited     = "exited"
	StateRestarting = "restarting"
	StateDegraded   = "degraded" // crash loop, dead container, running+exited mix
	StateStarting   = "starting"
	StatePaused     = "paused"

	HealthHealthy   = "healthy" // also while Docker's health check is still starting
	HealthUnhealthy = "unhealthy"
	HealthUnknown   = "unknown" // running without a Docker HEALTHCHECK: the usual case
)

// ParseStatus splits an application status into state and health the way
// Coolify's own model accessor does: "running:healthy" and the older
// "running (healthy)" both give ("running", "healthy"), and a bare state
// ("exited") gets health "unhealthy". Both are lowercased. An empty status
// gives ("", "").
//
// Coolify's status lags reality and has known lies (running after the
// container is gone, healthy while starting): treat it as one signal among
// several, never as proof on its own.
func ParseStatus(s string) (state, health string) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", ""
	}
	if before, after, ok := strings.Cut(s, "("); ok {
		health, _, _ = strings.Cut(after, ")")
		state = before
	} else if before, after, ok := strings.Cut(s, ":"); ok {
		state, health = before, after
	} else {
		state = s
	}
	state, health = strings.TrimSpace(state), strings.TrimSpace(health)
	if health == "" {
		health = HealthUnhealthy
	}
	return state, health
}
