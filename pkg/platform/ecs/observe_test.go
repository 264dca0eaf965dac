package ecs

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/platform"
)

func TestObserve(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	bot := func(code *int32, reason string) types.Container {
		c := types.Container{Name: aws.String("bot"), ExitCode: code}
		if reason != "" {
			c.Reason = aws.String(reason)
		}
		return c
	}
	sidecar := types.Container{Name: aws.String("log-router"), ExitCode: aws.Int32(0)}
	tests := []struct {
		name   string
		task   types.Task
		phase  platform.Phase
		code   *int
		reason string
	}{
		{"provisioning", types.Task{LastStatus: aws.String("PROVISIONING")}, platform.PhasePending, nil, "PROVISIONING"},
		{"pending", types.Task{LastStatus: aws.String("PENDING")}, platform.PhasePending, nil, "PENDING"},
		{"pulling", types.Task{LastStatus: aws.String("PENDING"), PullStartedAt: &now}, platform.PhaseStarting, nil, "PENDING: pulling image"},
		{"pulled", types.Task{LastStatus: aws.String("PENDING"), PullStartedAt: &now, PullStoppedAt: &now}, platform.PhaseStarting, nil, "PENDING: image pulled"},
		{"activating", types.Task{LastStatus: aws.String("ACTIVATING")}, platform.PhaseStarting, nil, "ACTIVATING"},
		{"running", types.Task{LastStatus: aws.String("RUNNING")}, platform.PhaseRunning, nil, "RUNNING"},
		{"running, stop requested", types.Task{LastStatus: aws.String("RUNNING"), DesiredStatus: aws.String("STOPPED")}, platform.PhaseRunning, nil, "RUNNING"},
		{"exited 0", types.Task{
			LastStatus: aws.String("STOPPED"), StopCode: types.TaskStopCodeEssentialContainerExited,
			StoppedReason: aws.String("Essential container in task exited"), Containers: []types.Container{bot(aws.Int32(0), "")},
		}, platform.PhaseExited, new(0), "EssentialContainerExited: Essential container in task exited"},
		{"exited 3 beside a sidecar", types.Task{
			LastStatus: aws.String("STOPPED"), StopCode: types.TaskStopCodeEssentialContainerExited,
			StoppedReason: aws.String("Essential container in task exited"), Containers: []types.Container{sidecar, bot(aws.Int32(3), "")},
		}, platform.PhaseExited, new(3), "EssentialContainerExited: Essential container in task exited"},
		{"oom", types.Task{
			LastStatus: aws.String("STOPPED"), StopCode: types.TaskStopCodeEssentialContainerExited,
			StoppedReason: aws.String("Essential container in task exited"), Containers: []types.Container{bot(aws.Int32(137), "OutOfMemoryError: Container killed due to memory usage")},
		}, platform.PhaseExited, new(137), "EssentialContainerExited: Essential container in task exited (container: OutOfMemoryError: Container killed due to memory usage)"},
		{"failed to start", types.Task{
			LastStatus: aws.String("STOPPED"), StopCode: types.TaskStopCodeTaskFailedToStart,
			StoppedReason: aws.String("CannotPullContainerError: pull access denied"), Containers: []types.Container{bot(nil, "")},
		}, platform.PhaseExited, nil, "TaskFailedToStart: CannotPullContainerError: pull access denied"},
		{"spot interruption while stopping", types.Task{
			LastStatus: aws.String("STOPPING"), StopCode: types.TaskStopCodeSpotInterruption,
			StoppedReason: aws.String("Your Spot Task was interrupted."), Containers: []types.Container{bot(nil, "")},
		}, platform.PhaseStopping, nil, "SpotInterruption: Your Spot Task was interrupted."},
		{"user stop deprovisioning", types.Task{
			LastStatus: aws.String("DEPROVISIONING"), StopCode: types.TaskStopCodeUserInitiated,
			StoppedReason: aws.String(StopReason), Containers: []types.Container{bot(aws.Int32(143), "")},
		}, platform.PhaseStopping, new(143), "UserInitiated: " + StopReason},
		{"deactivating without a stop code yet", types.Task{LastStatus: aws.String("DEACTIVATING")}, platform.PhaseStopping, nil, "DEACTIVATING"},
		{"no status", types.Task{}, platform.PhaseUnknown, nil, "ECS task no lastStatus"},
		{"new status", types.Task{LastStatus: aws.String("HIBERNATING")}, platform.PhaseUnknown, nil, "ECS task HIBERNATING"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := Observe(tt.task)
			require.Equal(t, tt.phase, o.Phase, "Observe phase")
			require.Equal(t, tt.reason, o.Reason, "Observe reason")
			// Pointers compare deeply: both nil, or the same exit code.
			require.Equal(t, tt.code, o.ExitCode, "exit code")
		})
	}
}

func TestTaskName(t *testing.T) {
	tagged := types.Task{Tags: []types.Tag{{Key: aws.String(TagBot), Value: aws.String("b")}, {Key: aws.String(TagDeployment), Value: aws.String("meeboter-b-1")}}}
	require.Equal(t, "meeboter-b-1", taskName(tagged), "tagged")
	stopped := types.Task{Overrides: &types.TaskOverride{ContainerOverrides: []types.ContainerOverride{{
		Name:        aws.String("bot"),
		Environment: []types.KeyValuePair{{Name: aws.String("A"), Value: aws.String("1")}, {Name: aws.String(EnvWorkload), Value: aws.String("meeboter-b-2")}},
	}}}}
	require.Equal(t, "meeboter-b-2", taskName(stopped), "untagged")
	require.Empty(t, taskName(types.Task{}), "anonymous")
}
