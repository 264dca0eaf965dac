package ecssim

import (
	"errors"
	"maps"
	"strconv"
	"time"
)

var errNoTask = errors.New("no such task")

// knobs are the faults and latencies that can change at run time.
type knobs struct {
	errorRate, errorAfterRate float64
	stormUntil                time.Time
	throttle                  bool
	capacityReason            string
	capacityFailures          int
	capacityUnavailableUntil  time.Time
	capacityAsError           bool
	startFailures             int
	startFailureReason        string
	failLists                 int
	consistencyLag            time.Duration
	delays                    Delays
}

// Delays are the lifecycle latencies (see Config).
type Delays struct {
	Provisioning, Pending, Activating, Stop time.Duration
}

// SetErrorRate makes a fraction p of API calls answer 500 ServerException
// before doing anything.
func (s *Sim) SetErrorRate(p float64) { s.set(func() { s.knobs.errorRate = clamp01(p) }) }

// SetErrorAfterRate makes a fraction p of API calls take effect and still
// answer 500 ServerException: the lost answer clientToken exists for.
func (s *Sim) SetErrorAfterRate(p float64) { s.set(func() { s.knobs.errorAfterRate = clamp01(p) }) }

// ThrottleStorm answers every API call ThrottlingException for d.
func (s *Sim) ThrottleStorm(d time.Duration) { s.set(func() { s.knobs.stormUntil = s.now().Add(d) }) }

// SetThrottle turns the token buckets on or off (Config.NoThrottle).
func (s *Sim) SetThrottle(on bool) { s.set(func() { s.knobs.throttle = on }) }

// SetCapacityFailures makes the next n tasks RunTask would place fail
// instead, each a failures[] entry with reason (e.g. "RESOURCE:MEMORY",
// "RESOURCE:ENI"); with count > 1 the rest are placed: partial success.
func (s *Sim) SetCapacityFailures(reason string, n int) {
	s.set(func() { s.knobs.capacityReason, s.knobs.capacityFailures = reason, max(n, 0) })
}

// CapacityUnavailable makes Fargate out of capacity for d: every task
// RunTask would place is a failures[] entry with reason
// ReasonCapacityUnavailable (or, after SetCapacityAsError(true), the whole
// call is answered ClientException with that message; which form AWS uses
// is not confirmed, so clients must handle both).
func (s *Sim) CapacityUnavailable(d time.Duration) {
	s.set(func() { s.knobs.capacityUnavailableUntil = s.now().Add(d) })
}

// SetCapacityAsError chooses the exception form of CapacityUnavailable.
func (s *Sim) SetCapacityAsError(on bool) { s.set(func() { s.knobs.capacityAsError = on }) }

// FailNextStarts makes the next n tasks that finish PENDING fail to start:
// they stop with TaskFailedToStart and reason as stoppedReason and the
// container's reason (e.g. "CannotPullContainerError: …" or
// "ResourceInitializationError: …").
func (s *Sim) FailNextStarts(n int, reason string) {
	s.set(func() { s.knobs.startFailures, s.knobs.startFailureReason = max(n, 0), reason })
}

// FailLists makes the next n ListTasks or DescribeTasks calls answer 500
// ServerException: the failed reads after which a controller must delete
// nothing.
func (s *Sim) FailLists(n int) { s.set(func() { s.knobs.failLists = max(n, 0) }) }

// SetConsistencyLag sets how long new tasks stay invisible to reads.
func (s *Sim) SetConsistencyLag(d time.Duration) {
	s.set(func() { s.knobs.consistencyLag = max(d, 0) })
}

// SetDelays sets the lifecycle latencies of steps scheduled from now on;
// here zero means zero (negative too).
func (s *Sim) SetDelays(d Delays) {
	s.set(func() {
		s.knobs.delays = Delays{Provisioning: max(d.Provisioning, 0), Pending: max(d.Pending, 0),
			Activating: max(d.Activating, 0), Stop: max(d.Stop, 0)}
	})
}

// StopTaskExternally stops a task as ECS itself would (for example
// types.TaskStopCodeSpotInterruption or TerminationNotice): desiredStatus
// STOPPED with that stop code and reason, then the normal way down
// (SIGTERM, stop timeout). A task already stopping keeps its first reason.
func (s *Sim) StopTaskExternally(taskRef string, code TaskStopCode, reason string) error {
	return s.withTask(taskRef, func(t *task) error {
		s.beginStop(t, code, reason, ErrStopped)
		return nil
	})
}

// CrashTask kills a task's running container with exitCode (an OOM kill is
// 137): the task stops with EssentialContainerExited.
func (s *Sim) CrashTask(taskRef string, exitCode int) error {
	return s.withTask(taskRef, func(t *task) error { return s.crash(t, exitCode) })
}

// VanishTask makes a task disappear from ECS without a trace, its
// container killed: DescribeTasks says MISSING from now on.
func (s *Sim) VanishTask(taskRef string) error {
	return s.withTask(taskRef, func(t *task) error {
		s.vanish(t)
		return nil
	})
}

// withTask runs fn on the task named by an id or ARN, consistency lag
// ignored.
func (s *Sim) withTask(ref string, fn func(*task) error) error {
	var err error
	s.set(func() {
		_, id, ok := s.taskRef(ref)
		t := s.tasks[id]
		if !ok || t == nil {
			err = errNoTask
			return
		}
		err = fn(t)
	})
	return err
}

func clamp01(p float64) float64 { return min(max(p, 0), 1) }

// TaskSnapshot is a task as it really is (no consistency lag), for tests.
type TaskSnapshot struct {
	ARN              string            `json:"arn"`
	ID               string            `json:"id"`
	Cluster          string            `json:"cluster"`
	TaskDefinition   string            `json:"task_definition"` // family:revision
	CapacityProvider string            `json:"capacity_provider"`
	LastStatus       string            `json:"last_status"`
	DesiredStatus    string            `json:"desired_status"`
	StartedBy        string            `json:"started_by"`
	Group            string            `json:"group"`
	ClientToken      string            `json:"client_token"`
	Tags             map[string]string `json:"tags"` // empty once stopped
	Env              map[string]string `json:"env"`  // what the Workload got
	StopCode         TaskStopCode      `json:"stop_code"`
	StoppedReason    string            `json:"stopped_reason"`
	ExitCode         *int              `json:"exit_code"`
	// Running is true while a Workload runs for the task.
	Running   bool      `json:"running"`
	CreatedAt time.Time `json:"created_at"`
	StartedAt time.Time `json:"started_at"`
	StoppedAt time.Time `json:"stopped_at"`
	// Forgotten: past StoppedRetention, or vanished (then Vanished too).
	Forgotten bool `json:"forgotten"`
	Vanished  bool `json:"vanished"`
}

// Tasks lists every task ever created, in creation order.
func (s *Sim) Tasks() []TaskSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
	out := make([]TaskSnapshot, 0, len(s.all))
	for _, t := range s.all {
		out = append(out, s.snapshot(t))
	}
	return out
}

// Task is the snapshot of the task with this id or ARN.
func (s *Sim) Task(ref string) (TaskSnapshot, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
	_, id, _ := s.taskRef(ref)
	for _, t := range s.all {
		if t.id == id {
			return s.snapshot(t), true
		}
	}
	return TaskSnapshot{}, false
}

func (s *Sim) snapshot(t *task) TaskSnapshot {
	tags := map[string]string{}
	for _, tag := range t.tags {
		tags[tag.Key] = tag.Value
	}
	var code *int
	if t.exitCode != nil {
		c := *t.exitCode
		code = &c
	}
	return TaskSnapshot{ARN: t.arn, ID: t.id, Cluster: t.cluster,
		TaskDefinition: t.def.Family + ":" + strconv.Itoa(t.def.Revision), CapacityProvider: t.provider,
		LastStatus: t.lastStatus, DesiredStatus: t.desiredStatus, StartedBy: t.startedBy, Group: t.group,
		ClientToken: t.clientToken, Tags: tags, Env: maps.Clone(t.env), StopCode: t.stopCode,
		StoppedReason: t.stoppedReason, ExitCode: code, Running: t.running, CreatedAt: t.createdAt,
		StartedAt: t.startedAt, StoppedAt: t.stoppedAt, Forgotten: t.removed, Vanished: t.vanished}
}

// Stats counts what the simulator saw.
type Stats struct {
	// Calls per operation ("RunTask", …), throttled and failed ones
	// included; requests refused by authentication are not calls.
	Calls map[string]int `json:"calls"`
	// Errors per error code sent ("ThrottlingException", …).
	Errors map[string]int `json:"errors"`
	// Throttled is how many ThrottlingExceptions were sent.
	Throttled int `json:"throttled"`
	// InjectedErrors is how many ServerExceptions the error knobs caused.
	InjectedErrors int `json:"injected_errors"`
	// AuthFailures is how many requests failed authentication.
	AuthFailures int `json:"auth_failures"`
	// Launched counts tasks created; Failures the failures[] entries
	// RunTask returned; Replays the RunTasks answered from a clientToken;
	// Conflicts the ConflictExceptions.
	Launched  int `json:"launched"`
	Failures  int `json:"failures"`
	Replays   int `json:"replays"`
	Conflicts int `json:"conflicts"`
	// Running is the tasks whose lastStatus is RUNNING now, MaxRunning the
	// most at once; Active and MaxActive the same for tasks not yet STOPPED.
	Running    int `json:"running"`
	MaxRunning int `json:"max_running"`
	Active     int `json:"active"`
	MaxActive  int `json:"max_active"`
	// WorkloadStarts counts Workload launches.
	WorkloadStarts int `json:"workload_starts"`
}

type statsCounters struct {
	calls, errors                          map[string]int
	throttled, injected, authFailures      int
	launched, failures, replays, conflicts int
	running, maxRunning, active, maxActive int
	workloadStarts                         int
}

func newStatsCounters() statsCounters {
	return statsCounters{calls: map[string]int{}, errors: map[string]int{}}
}

// Stats returns a copy of the counters.
func (s *Sim) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
	c := s.stats
	return Stats{Calls: maps.Clone(c.calls), Errors: maps.Clone(c.errors), Throttled: c.throttled,
		InjectedErrors: c.injected, AuthFailures: c.authFailures, Launched: c.launched, Failures: c.failures,
		Replays: c.replays, Conflicts: c.conflicts, Running: c.running, MaxRunning: c.maxRunning,
		Active: c.active, MaxActive: c.maxActive, WorkloadStarts: c.workloadStarts}
}
