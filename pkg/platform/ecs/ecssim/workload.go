package ecssim

import (
	"context"

	"github.com/meeboter/meeboter/pkg/platform/simcontainer"
)

// Workload runs a task's essential container: it gets the container's
// environment (the task definition's, overlaid with RunTask's
// containerOverrides[].environment) and runs until ctx is cancelled
// (StopTask, an external stop, a crash or a vanish — context.Cause tells
// which) or it returns by itself with an exit code, which stops the task with
// EssentialContainerExited. One that does not return soon after a stop is
// killed (exit code 137) after the task's stop timeout.
type Workload = simcontainer.Workload

// ProcessOption configures ProcessWorkload.
type ProcessOption = simcontainer.ProcessOption

// Process workloads are shared with the Coolify simulator (see simcontainer).
var (
	// ProcessWorkload runs a command per task with exactly the container's
	// environment.
	ProcessWorkload = simcontainer.ProcessWorkload
	// WithOutput sends a process's output to w.
	WithOutput = simcontainer.WithOutput
	// WithKillGrace sets the time between SIGTERM and SIGKILL on stop.
	WithKillGrace = simcontainer.WithKillGrace
	// StopTimeout is the stop timeout a stopped Workload gets.
	StopTimeout = simcontainer.StopGrace
)

// idleWorkload is a container that just runs.
func idleWorkload(ctx context.Context, _ map[string]string) int {
	<-ctx.Done()
	return 0
}
