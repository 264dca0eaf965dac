package coolifysim

import (
	"context"

	"github.com/meeboter/meeboter/pkg/platform/simcontainer"
)

// Workload runs one container: it gets the application's environment (the
// runtime variables set through the API, production rows, as of the
// deployment) and runs until ctx is cancelled (stop, delete, crash, vanish —
// context.Cause tells which) or it exits by itself, returning an exit code.
// The restart policy restarts a Workload that returns by itself. A Workload
// that does not return soon after ctx is cancelled is given up for dead after
// the app's stop_grace_period, and Close waits for it.
type Workload = simcontainer.Workload

// ProcessOption configures ProcessWorkload.
type ProcessOption = simcontainer.ProcessOption

// Process workloads are shared with the ECS simulator (see simcontainer).
var (
	// ProcessWorkload runs a command per container run with exactly the
	// container's environment.
	ProcessWorkload = simcontainer.ProcessWorkload
	// WithOutput sends a process's output to w.
	WithOutput = simcontainer.WithOutput
	// WithKillGrace sets the time between SIGTERM and SIGKILL on stop.
	WithKillGrace = simcontainer.WithKillGrace
	// StopGrace is the stop_grace_period a stopped Workload gets.
	StopGrace = simcontainer.StopGrace
)

// idleWorkload is a container that just runs.
func idleWorkload(ctx context.Context, _ map[string]string) int {
	<-ctx.Done()
	return 0
}
