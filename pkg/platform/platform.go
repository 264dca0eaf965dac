package platform

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Phase is the platform-independent state of a workload.
type Phase string

// Phases of a workload.
const (
	PhasePending  Phase = "pending"  // accepted, not started yet (image pull, provisioning)
	PhaseStarting Phase = "starting" // the platform reports progress towards running
	PhaseRunning  Phase = "running"
	PhaseStopping Phase = "stopping" // the workload is ending (its container may still be shutting down)
	PhaseExited   Phase = "exited"
	PhaseMissing  Phase = "missing" // not found: unknown, not gone, until it stays missing past a grace period
	PhaseUnknown  Phase = "unknown"
)

// Observation is what a platform says about one workload.
type Observation struct {
	Phase    Phase
	ExitCode *int   // for PhaseExited, when the platform knows it
	Reason   string // platform's own words, for the timeline and logs
	// Code is a stable reason (oom_killed, image_pull_failed, evicted, …)
	// when the platform gives one: the controller records it on the bot's
	// timeline, where it outlives the platform's own records.
	Code string
}

// Workload is what the controller asks a platform to run: one attempt of one
// bot. Name is deterministic (meeboter-<bot>-<attempt>) and doubles as the
// idempotency token, so a retried Create adopts instead of duplicating; Env
// is the same on every retry of the attempt.
type Workload struct {
	Name            string
	BotID           string
	Attempt         int
	MeetingPlatform string
	Env             map[string]string
	// Try counts the definite failures of this attempt's creates that
	// created nothing (capacity refusals): a platform whose idempotency
	// tokens remember failures (ECS clientToken) asks afresh with a new one.
	Try int
}

// Listed is one workload a platform owns.
type Listed struct {
	Name       string
	ExternalID string
	CreatedAt  time.Time
	// Released means nothing is left to stop or delete (a stopped ECS task,
	// listed for its exit code only): garbage collection leaves it alone.
	Released bool
	Observation
}

// Platform runs bot workloads. Every method is idempotent.
type Platform interface {
	// Name is the platform's name in rows and metrics ("local", "coolify", "aws").
	Name() string
	// Create starts w, or adopts the workload already named w.Name.
	Create(ctx context.Context, w Workload) (externalID string, err error)
	// Lookup finds a live workload by name; found is false when there is none.
	Lookup(ctx context.Context, name string) (l Listed, found bool, err error)
	// Stop stops and removes the workload; a workload that is not there is
	// not an error. gone reports that nothing of it is left; false means the
	// platform is still stopping it (an ECS task's stop timeout), so its
	// capacity stays claimed until List shows it exited or absent.
	Stop(ctx context.Context, name, externalID string) (gone bool, err error)
	// List returns every workload the platform owns, live or recently exited.
	// It returns an error rather than a partial list: absence is evidence only
	// in a complete list.
	List(ctx context.Context) ([]Listed, error)
}

// Describer is implemented by a platform that can read given workloads by
// their external ids at a cost independent of the fleet (ECS DescribeTasks):
// the observer then reads only the workloads whose state it cannot infer,
// and lists the platform only when an external id is unknown.
type Describer interface {
	// Describe reads the workloads of externalIDs. Every id is answered,
	// either found (its Listed carries that very id as ExternalID) or
	// missing: the platform said it does not know it, which is evidence of
	// absence for that workload alone. It returns an error rather than a
	// partial answer.
	Describe(ctx context.Context, externalIDs []string) (found []Listed, missing []string, err error)
}

// IDLister is implemented by a platform that can list the external ids of
// its running workloads for less than List costs (ECS: ListTasks pages, no
// DescribeTasks, no stopped tasks). With Describe, garbage collection reads
// only the workloads no live deployment owns.
type IDLister interface {
	// ListIDs returns the external id of every workload the platform runs
	// and has not been asked to stop, or an error: never a partial list.
	ListIDs(ctx context.Context) ([]string, error)
}

// ErrCapacity means the platform has no room now and created nothing; the
// bot should wait or try the next platform.
var ErrCapacity = errors.New("platform: no capacity")

// ErrPermanent marks a failure that retrying cannot fix (a missing task
// definition or image, a refused parameter, no permission). Any other error
// is taken as transient and retried until the bot's deploy deadline.
var ErrPermanent = errors.New("platform: permanent failure")

// Permanent marks err as permanent.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrPermanent, err)
}
