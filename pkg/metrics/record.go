package metrics

import (
	"strconv"
	"time"
)

// Deadlines map the terminal reasons that are deadline expiries to the
// deadline label.
var deadlines = map[string]string{
	"heartbeat_timeout": "heartbeat",
	"deploy_timeout":    "deploy",
	"leave_timeout":     "leave",
	"queue_timeout":     "queue",
	"max_lifetime":      "lifetime",
}

// ReasonOther is the reason label of every finish whose reason is not one
// of knownReasons: a bot picks its FATAL reason, and a label value per
// string it sends would grow the series without bound. The reason itself
// stays on the bot (status_reason).
const ReasonOther = "other"

// knownReasons are the terminal reasons the controller sets (pkg/store's
// Reason* constants) and the codes our own bots report.
var knownReasons = map[string]bool{
	"completed": true, "cancelled": true, "removed": true, "heartbeat_timeout": true, "deploy_timeout": true,
	"queue_timeout": true, "leave_timeout": true, "max_lifetime": true, "container_exited": true,
	"container_restarted": true, "platform_error": true, "bot_fatal": true, "recording_missing": true,
	"recording_upload_failed": true,
}

// ReasonLabel is the reason label value of a finish with reason.
func ReasonLabel(reason string) string {
	if knownReasons[reason] {
		return reason
	}
	return ReasonOther
}

// ObserveReconcile records one pass of a controller that started at start.
func (m *Metrics) ObserveReconcile(controller string, start time.Time, err error) {
	if m == nil {
		return
	}
	result := ResultSuccess
	if err != nil {
		result = ResultError
	}
	m.Reconciles.WithLabelValues(controller, result).Inc()
	m.ReconcileDuration.WithLabelValues(controller).Observe(time.Since(start).Seconds())
}

// PlatformRequest records one platform API call; status is its HTTP status
// code, 0 when there was no response.
func (m *Metrics) PlatformRequest(platform, op string, status int, d time.Duration, throttled bool) {
	if m == nil {
		return
	}
	code := "error"
	if status > 0 {
		code = strconv.Itoa(status)
	}
	m.PlatformRequests.WithLabelValues(platform, op, code).Inc()
	m.PlatformRequestDuration.WithLabelValues(platform, op).Observe(d.Seconds())
	if throttled || status == 429 {
		m.PlatformThrottled.WithLabelValues(platform, op).Inc()
	}
}

// BotFinished records a terminal transition this replica made; a deadline
// reason also counts as that deadline's expiry.
func (m *Metrics) BotFinished(status, reason string) {
	if m == nil {
		return
	}
	m.BotsFinished.WithLabelValues(status, ReasonLabel(reason)).Inc()
	if d, ok := deadlines[reason]; ok {
		m.DeadlineExpiries.WithLabelValues(d).Inc()
	}
}

func start(warm bool) string {
	if warm {
		return StartWarm
	}
	return StartCold
}

// ObserveLateness records how late (negative: early) a scheduled bot began
// entering its meeting.
func (m *Metrics) ObserveLateness(platform string, d time.Duration) {
	if m == nil {
		return
	}
	m.JoinLateness.WithLabelValues(platform).Observe(d.Seconds())
}

// ObserveDeploy records an attempt's deploy duration.
func (m *Metrics) ObserveDeploy(platform string, warm bool, d time.Duration) {
	if m == nil {
		return
	}
	m.DeployDuration.WithLabelValues(platform, start(warm)).Observe(d.Seconds())
}

// ObserveInCall records a bot's time from creation to its first IN_CALL.
func (m *Metrics) ObserveInCall(platform string, warm bool, d time.Duration) {
	if m == nil {
		return
	}
	m.CreateToInCall.WithLabelValues(platform, start(warm)).Observe(d.Seconds())
}

// OrphanCollected records a workload the garbage collector removed.
func (m *Metrics) OrphanCollected(platform string) {
	if m == nil {
		return
	}
	m.OrphansCollected.WithLabelValues(platform).Inc()
}

// DriftCorrected records one correction of drifted state.
func (m *Metrics) DriftCorrected(platform, kind string) {
	if m == nil {
		return
	}
	m.DriftCorrections.WithLabelValues(platform, kind).Inc()
}

// WebhookDelivery records one delivery attempt.
func (m *Metrics) WebhookDelivery(target, outcome string) {
	if m == nil {
		return
	}
	m.WebhookDeliveries.WithLabelValues(target, outcome).Inc()
}

// RecordingStored records a verified recording of size bytes.
func (m *Metrics) RecordingStored(size int64) {
	if m == nil {
		return
	}
	m.RecordingsStored.Inc()
	m.RecordingBytes.Add(float64(size))
}

// HTTPRequest records one API request by its route pattern.
func (m *Metrics) HTTPRequest(handler string, status int, d time.Duration) {
	if m == nil {
		return
	}
	m.HTTPRequests.WithLabelValues(handler, strconv.Itoa(status)).Inc()
	m.HTTPRequestDuration.WithLabelValues(handler).Observe(d.Seconds())
}

// HTTPPanic records a handler's panic on a route pattern.
func (m *Metrics) HTTPPanic(handler string) {
	if m == nil {
		return
	}
	m.HTTPPanics.WithLabelValues(handler).Inc()
}
