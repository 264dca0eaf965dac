package ecssim

import (
	"slices"
	"time"
)

// StopRecord is one StopTask call that took effect, as the simulator saw it
// when the call came: which task, what state it was in, and when a read of
// the task list last failed before it. A chaos run compares these with the
// bots' states to prove nothing was stopped because a list call failed.
type StopRecord struct {
	At            time.Time `json:"at"`
	TaskARN       string    `json:"task_arn"`
	ClientToken   string    `json:"client_token"`
	StartedBy     string    `json:"started_by"`
	LastStatus    string    `json:"last_status"`
	DesiredStatus string    `json:"desired_status"`
	// WasRunning: the task's container was running (a Workload ran).
	WasRunning bool `json:"was_running"`
	// LastListFailure is when a ListTasks or DescribeTasks call last failed
	// (an injected error, fail_lists or a throttle) before this stop; nil
	// when none had.
	LastListFailure *time.Time `json:"last_list_failure,omitempty"`
}

// listOperations are the reads a controller builds its view of the
// cluster from.
var listOperations = map[string]bool{"ListTasks": true, "DescribeTasks": true}

// failListCall answers 500 when a fail_lists fault is due for this call.
// Call with s.mu held.
func (s *Sim) failListCall(name string) *apiError {
	if !listOperations[name] || s.knobs.failLists == 0 {
		return nil
	}
	s.knobs.failLists--
	s.stats.injected++
	return errServer()
}

// noteListResult remembers a failed read. Call with s.mu held.
func (s *Sim) noteListResult(name string, aerr *apiError) {
	if aerr != nil && listOperations[name] {
		s.lastListFailure = s.now()
	}
}

// recordStop notes a StopTask of t before it takes effect. Call with s.mu
// held.
func (s *Sim) recordStop(t *task) {
	rec := StopRecord{At: s.now(), TaskARN: t.arn, ClientToken: t.clientToken, StartedBy: t.startedBy,
		LastStatus: t.lastStatus, DesiredStatus: t.desiredStatus, WasRunning: t.running}
	if !s.lastListFailure.IsZero() {
		at := s.lastListFailure
		rec.LastListFailure = &at
	}
	s.stops = append(s.stops, rec)
}

// Stops lists every StopTask that took effect, in order.
func (s *Sim) Stops() []StopRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.stops)
}
