package bot

import (
	"time"

	"github.com/meeboter/meeboter/pkg/store"
)

// Config holds the deadlines and limits the reconciler enforces.
type Config struct {
	HeartbeatTimeout time.Duration
	DeployTimeout    time.Duration
	LeaveTimeout     time.Duration
	MaxBotLifetime   time.Duration
	QueueTimeout     time.Duration
	JoinLeadTime     time.Duration
	// MissingGrace is how long a workload may be missing from the platform's
	// list before it counts as exited (eventual consistency, restarts).
	MissingGrace time.Duration
	// MaxAttempts bounds attempts when a container exits before IN_CALL.
	MaxAttempts int
	// MaxCreateErrors bounds create calls of one attempt that fail for good
	// (platform.ErrPermanent); transient failures are retried until the
	// deploy deadline.
	MaxCreateErrors int
	// StopRecheck is how long a stop may take before it is asked again.
	StopRecheck time.Duration
	// ExitConfirm is how long a bot that was heart-beating when its workload
	// was seen exited has to refute it with another beat (a platform status
	// shown late); 0 believes the platform at once.
	ExitConfirm time.Duration
}

// ActionKind is the one step a reconcile takes next.
type ActionKind int

// The steps.
const (
	ActWait   ActionKind = iota // nothing to do until Action.Next (nil: until something changes)
	ActQueue                    // SCHEDULED → QUEUED
	ActCreate                   // create (or adopt) the current attempt's workload
	ActStop                     // stop the live workload
	ActRetry                    // replace an attempt that exited before the call with a new one
	ActFinish                   // end the bot with Status and Reason
	ActForget                   // the stopped workload is gone: release its capacity
)

func (k ActionKind) String() string {
	return [...]string{"wait", "queue", "create", "stop", "retry", "finish", "forget"}[k]
}

// Action is what Decide asks for.
type Action struct {
	Kind   ActionKind
	Status store.Status
	Reason string
	Next   *time.Time
}

func wait(at *time.Time) Action { return Action{Kind: ActWait, Next: at} }

func finish(s store.Status, reason string) Action {
	return Action{Kind: ActFinish, Status: s, Reason: reason}
}

// Decide is the whole reconciliation policy: from the bot row, its current
// deployment (nil before admission) and the time, the next step.
func Decide(b store.Bot, d *store.Deployment, now time.Time, cfg Config) Action {
	live := d != nil && d.Live()
	switch {
	case b.Status.Terminal():
		if live {
			return decideStop(*d, now, cfg)
		}
		return wait(nil)
	case b.Desired == store.DesiredStopped:
		return decideStopped(b, d, now, cfg)
	case b.Status == store.StatusScheduled:
		at := b.JoinAt.Add(-cfg.JoinLeadTime)
		if !now.Before(at) {
			return Action{Kind: ActQueue}
		}
		return wait(&at)
	case b.Status == store.StatusQueued:
		deadline := b.QueuedAt.Add(cfg.QueueTimeout)
		if !now.Before(deadline) {
			return finish(store.StatusFatal, store.ReasonQueueTimeout)
		}
		return wait(&deadline)
	case !live:
		// Admitted bots always have a live deployment; a missing one is a
		// bug or manual surgery, and waiting would leave the bot stuck.
		return finish(store.StatusFatal, store.ReasonPlatformError)
	}
	return decideDeployed(b, *d, now, cfg)
}

// stopReason is the terminal reason of a user's stop.
func stopReason(b store.Bot) string {
	if b.StopMode != nil && *b.StopMode == store.StopLeave {
		return store.ReasonRemoved
	}
	return store.ReasonCancelled
}

func decideStopped(b store.Bot, d *store.Deployment, now time.Time, cfg Config) Action {
	graceful := b.StopMode != nil && *b.StopMode == store.StopLeave && b.Status.Running()
	if d == nil || !d.Live() || !graceful {
		// Finish first: the terminal branch then stops the workload, so a
		// crash in between still ends with the workload stopped.
		return finish(store.StatusDone, stopReason(b))
	}
	if exited(b, *d, now, cfg) {
		return finish(store.StatusFatal, store.ReasonContainerExited)
	}
	deadline := b.StopRequestedAt.Add(cfg.LeaveTimeout)
	if !now.Before(deadline) {
		return finish(store.StatusFatal, store.ReasonLeaveTimeout)
	}
	return wait(&deadline)
}

// decideStop stops a live workload of a bot that has ended, and keeps its
// capacity claimed until the platform reports the workload gone (an ECS
// task takes up to its stop timeout); a stop that has not taken by
// StopRecheck is asked again.
func decideStop(d store.Deployment, now time.Time, cfg Config) Action {
	if d.State != store.DeploymentStopping || d.StopRequestedAt == nil {
		return Action{Kind: ActStop}
	}
	if d.Observed != nil && (*d.Observed == store.ObservedExited || *d.Observed == store.ObservedMissing) {
		return Action{Kind: ActForget}
	}
	again := d.StopRequestedAt.Add(cfg.StopRecheck)
	if !now.Before(again) {
		return Action{Kind: ActStop}
	}
	return wait(&again)
}

// decideCreate creates the attempt's workload, waiting out a failed or
// capacity-refused try's backoff. Failing creates are retried until the
// deploy deadline; an attempt that only waits for capacity (every platform
// full, nothing failed) is a bot still queued, and waits until its queue
// timeout.
func decideCreate(b store.Bot, d store.Deployment, now time.Time, cfg Config) Action {
	deadline := createDeadline(b, d, cfg)
	if !now.Before(deadline) {
		switch {
		case d.ErrorCount > 0:
			return finish(store.StatusFatal, store.ReasonPlatformError)
		case waitsForCapacity(d):
			return finish(store.StatusFatal, store.ReasonQueueTimeout)
		}
		return finish(store.StatusFatal, store.ReasonDeployTimeout)
	}
	if d.RetryAt != nil && now.Before(*d.RetryAt) {
		next := earliest(*d.RetryAt, deadline)
		return wait(&next)
	}
	return Action{Kind: ActCreate}
}

func createDeadline(b store.Bot, d store.Deployment, cfg Config) time.Time {
	deadline := deployDeadline(d, cfg)
	if d.ErrorCount == 0 && waitsForCapacity(d) && b.QueuedAt != nil {
		if queued := b.QueuedAt.Add(cfg.QueueTimeout); queued.After(deadline) {
			return queued
		}
	}
	return deadline
}

func decideDeployed(b store.Bot, d store.Deployment, now time.Time, cfg Config) Action {
	leaveAt, _ := b.LeaveAt(cfg.MaxBotLifetime)
	lifetime := leaveAt.Add(cfg.LeaveTimeout)
	if !now.Before(lifetime) {
		return finish(store.StatusFatal, store.ReasonMaxLifetime)
	}
	switch d.State {
	case store.DeploymentPending, store.DeploymentCreating:
		return decideCreate(b, d, now, cfg)
	case store.DeploymentStopping:
		return Action{Kind: ActStop}
	}
	if exited(b, d, now, cfg) {
		if b.JoinedAt == nil && d.Attempt < cfg.MaxAttempts {
			return Action{Kind: ActRetry}
		}
		return finish(store.StatusFatal, store.ReasonContainerExited)
	}
	next := lifetime
	if b.Status == store.StatusDeploying {
		deadline := deployDeadline(d, cfg)
		if !now.Before(deadline) {
			return finish(store.StatusFatal, store.ReasonDeployTimeout)
		}
		next = earliest(next, deadline)
	} else {
		deadline := heartbeatDeadline(b, cfg)
		if !now.Before(deadline) {
			return finish(store.StatusFatal, store.ReasonHeartbeat)
		}
		next = earliest(next, deadline)
	}
	if at := exitDecidedAt(d, cfg); at != nil && at.After(now) {
		next = earliest(next, *at)
	}
	return wait(&next)
}

// exitDecidedAt is when an observation of the workload ending becomes (or
// became) a decision: after the missing grace, or the exit confirmation.
func exitDecidedAt(d store.Deployment, cfg Config) *time.Time {
	if d.Observed == nil || d.ObservedAt == nil {
		return nil
	}
	var at time.Time
	switch *d.Observed {
	case store.ObservedMissing:
		at = d.ObservedAt.Add(cfg.MissingGrace)
	case store.ObservedExited, store.ObservedStopping:
		at = d.ObservedAt.Add(cfg.ExitConfirm)
	default:
		return nil
	}
	return &at
}

// exited reports whether the workload has ended for the bot: seen exited or
// ending (confirmed: see exitConfirmed), or missing from complete lists for
// longer than the grace period.
func exited(b store.Bot, d store.Deployment, now time.Time, cfg Config) bool {
	if d.Observed == nil || d.ObservedAt == nil {
		return false
	}
	switch *d.Observed {
	case store.ObservedExited, store.ObservedStopping:
		return exitConfirmed(b, *d.ObservedAt, now, cfg)
	case store.ObservedMissing:
		return !now.Before(d.ObservedAt.Add(cfg.MissingGrace))
	}
	return false
}

// exitConfirmed cross-checks the platform's word with the bot's own: an exit
// seen while the bot was silent is believed at once; one seen while it was
// beating is believed once ExitConfirm passed without a beat, and refuted by
// a beat after it (a status the platform showed late: the bot still talks,
// so its workload runs).
func exitConfirmed(b store.Bot, seen, now time.Time, cfg Config) bool {
	beat := b.LastHeartbeatAt
	switch {
	case beat == nil || beat.Before(seen.Add(-cfg.ExitConfirm)):
		return true
	case beat.After(seen):
		return false
	}
	return !now.Before(seen.Add(cfg.ExitConfirm))
}

// waitsForCapacity reports an attempt whose create only waits for room: the
// platform refused it for capacity, or it was never begun — its reconcile
// is still queued behind the platform's launch rate (20,000 bots admitted
// at once wait up to 17 minutes for Fargate's 20 launches a second). Such a
// bot is still queued: its queue timeout bounds the wait, not the deploy
// timeout, which runs once the create is under way.
func waitsForCapacity(d store.Deployment) bool {
	return d.RetryAt != nil || (d.State == store.DeploymentPending && d.CreateTry == 0)
}

// deployDeadline runs from the attempt's start, extended while the platform
// reports progress (a cold image pull can take minutes): from the last
// progress the observers saw.
func deployDeadline(d store.Deployment, cfg Config) time.Time {
	start := d.CreatedAt
	if d.ProgressAt != nil && d.ProgressAt.After(start) {
		start = *d.ProgressAt
	}
	return start.Add(cfg.DeployTimeout)
}

func heartbeatDeadline(b store.Bot, cfg Config) time.Time {
	last := b.DeployStartedAt
	if b.LastHeartbeatAt != nil {
		last = b.LastHeartbeatAt
	}
	return last.Add(cfg.HeartbeatTimeout)
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
