package ecs

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/meeboter/meeboter/pkg/platform"
)

// Observe maps an ECS task to the platform-independent observation. The exit
// code is the bot container's: the only container, else the one named
// DefaultContainerName, else the first container that has an exit code.
func Observe(task types.Task) platform.Observation {
	return observe(task, DefaultContainerName)
}

func observe(task types.Task, container string) platform.Observation {
	last := aws.ToString(task.LastStatus)
	switch last {
	case "PROVISIONING":
		return platform.Observation{Phase: platform.PhasePending, Reason: last}
	case "PENDING":
		// Pulling the image is progress towards running (cold pulls of the
		// bot image take minutes): the deploy deadline may be extended.
		switch {
		case task.PullStoppedAt != nil:
			return platform.Observation{Phase: platform.PhaseStarting, Reason: last + ": image pulled"}
		case task.PullStartedAt != nil:
			return platform.Observation{Phase: platform.PhaseStarting, Reason: last + ": pulling image"}
		}
		return platform.Observation{Phase: platform.PhasePending, Reason: last}
	case "ACTIVATING":
		return platform.Observation{Phase: platform.PhaseStarting, Reason: last}
	case "RUNNING":
		return platform.Observation{Phase: platform.PhaseRunning, Reason: last}
	case "DEACTIVATING", "STOPPING", "DEPROVISIONING":
		// Ending, not ended: the task still counts against the bot limit.
		return platform.Observation{Phase: platform.PhaseStopping, ExitCode: exitCode(task, container), Reason: stopReason(task, container)}
	case "STOPPED":
		return platform.Observation{Phase: platform.PhaseExited, ExitCode: exitCode(task, container), Reason: stopReason(task, container)}
	}
	if last == "" {
		last = "no lastStatus"
	}
	return platform.Observation{Phase: platform.PhaseUnknown, Reason: "ECS task " + last}
}

// botContainer picks the container whose exit is the bot's.
func botContainer(task types.Task, name string) *types.Container {
	if len(task.Containers) == 1 {
		return &task.Containers[0]
	}
	for i := range task.Containers {
		if aws.ToString(task.Containers[i].Name) == name {
			return &task.Containers[i]
		}
	}
	for i := range task.Containers {
		if task.Containers[i].ExitCode != nil {
			return &task.Containers[i]
		}
	}
	return nil
}

func exitCode(task types.Task, container string) *int {
	c := botContainer(task, container)
	if c == nil || c.ExitCode == nil {
		return nil
	}
	code := int(*c.ExitCode)
	return &code
}

// stopReason is "stopCode: stoppedReason", with the container's own reason
// (OutOfMemoryError, CannotPullContainerError…) when it has one.
func stopReason(task types.Task, container string) string {
	reason := string(task.StopCode)
	if r := aws.ToString(task.StoppedReason); r != "" {
		if reason != "" {
			reason += ": "
		}
		reason += r
	}
	if c := botContainer(task, container); c != nil && aws.ToString(c.Reason) != "" {
		if reason != "" {
			reason += " "
		}
		reason += "(container: " + aws.ToString(c.Reason) + ")"
	}
	if reason == "" {
		reason = aws.ToString(task.LastStatus)
	}
	return reason
}
