package ecssim

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/require"
)

// withEnv overrides the bot container's environment and tags the task.
func withEnv(in *ecs.RunTaskInput) {
	in.StartedBy = aws.String("meeboter-ctl")
	in.Tags = []types.Tag{{Key: aws.String("meeting"), Value: aws.String("m1")}}
	in.Overrides = &types.TaskOverride{ContainerOverrides: []types.ContainerOverride{{
		Name: aws.String("bot"),
		Environment: []types.KeyValuePair{
			{Name: aws.String("BOT_ID"), Value: aws.String("b-1")},
			{Name: aws.String("MODE"), Value: aws.String("override")},
		},
	}}}
}

func TestRunTaskLifecycleToExit(t *testing.T) {
	t.Parallel()
	wl := newScripted()
	e := newSim(t, Config{Workload: wl.workload, TaskDefinitions: map[string]TaskDef{
		"bot:3": {ContainerName: "bot", Environment: map[string]string{"MODE": "taskdef", "IMAGE_TAG": "v1"}},
	}})
	out := e.run(t, withEnv)
	require.Len(t, out.Tasks, 1)
	first := out.Tasks[0]
	arn := aws.ToString(first.TaskArn)
	require.Regexp(t, `^arn:aws:ecs:us-east-1:123456789012:task/default/[0-9a-f]{32}$`, arn)
	require.Equal(t, "PROVISIONING", aws.ToString(first.LastStatus))
	require.Equal(t, "RUNNING", aws.ToString(first.DesiredStatus))
	require.Equal(t, "arn:aws:ecs:us-east-1:123456789012:task-definition/bot:3", aws.ToString(first.TaskDefinitionArn))
	require.Equal(t, "family:bot", aws.ToString(first.Group))
	require.Equal(t, "meeboter-ctl", aws.ToString(first.StartedBy))
	require.Equal(t, types.LaunchTypeFargate, first.LaunchType)
	require.WithinDuration(t, e.clock.Now(), aws.ToTime(first.CreatedAt), 0)

	pending := e.advanceTo(t, arn, "PENDING")
	require.NotNil(t, pending.PullStartedAt)
	require.Greater(t, pending.Version, first.Version)
	running := e.advanceTo(t, arn, "RUNNING")
	require.NotNil(t, running.StartedAt)
	require.NotNil(t, running.PullStoppedAt)
	require.Equal(t, "RUNNING", aws.ToString(running.Containers[0].LastStatus))
	require.Equal(t, []types.Tag{{Key: aws.String("meeting"), Value: aws.String("m1")}}, running.Tags)

	run := wl.next(t)
	require.Equal(t, "b-1", run.env["BOT_ID"])
	require.Equal(t, "override", run.env["MODE"], "containerOverrides win over the task definition")
	require.Equal(t, "v1", run.env["IMAGE_TAG"])
	require.Equal(t, "us-east-1", run.env["AWS_REGION"])

	run.exit <- 3
	require.Eventually(t, func() bool {
		return aws.ToString(e.describe(t, arn).DesiredStatus) == "STOPPED"
	}, waitFor, tick)
	stopping := e.describe(t, arn)
	require.Equal(t, types.TaskStopCodeEssentialContainerExited, stopping.StopCode)
	require.Equal(t, "Essential container in task exited", aws.ToString(stopping.StoppedReason))
	require.NotNil(t, stopping.ExecutionStoppedAt)
	require.Empty(t, stopping.Tags, "tags are deleted when a task stops")

	stopped := e.advanceTo(t, arn, "STOPPED")
	require.NotNil(t, stopped.StoppedAt)
	require.Equal(t, int32(3), aws.ToInt32(stopped.Containers[0].ExitCode))
	require.Equal(t, "STOPPED", aws.ToString(stopped.Containers[0].LastStatus))
	require.False(t, stopped.StoppedAt.Before(*stopped.ExecutionStoppedAt))

	snap, ok := e.sim.Task(arn)
	require.True(t, ok)
	require.Equal(t, 3, *snap.ExitCode)
	require.Equal(t, "b-1", snap.Env["BOT_ID"])
	require.Equal(t, "meeboter-ctl", snap.StartedBy)
	require.Equal(t, 1, e.sim.Stats().MaxRunning)
	require.Zero(t, e.sim.Stats().Running)
}

func TestStopTaskIsUserInitiated(t *testing.T) {
	t.Parallel()
	wl := newScripted()
	e := newSim(t, Config{Workload: wl.workload})
	arn := e.runOne(t, withEnv)
	e.advanceTo(t, arn, "RUNNING")
	run := wl.next(t)

	out, err := e.ecs.StopTask(e.ctx, &ecs.StopTaskInput{Task: aws.String(arn), Reason: aws.String("bot left")})
	require.NoError(t, err)
	require.Equal(t, "STOPPED", aws.ToString(out.Task.DesiredStatus))
	require.Equal(t, types.TaskStopCodeUserInitiated, out.Task.StopCode)
	require.Equal(t, "bot left", aws.ToString(out.Task.StoppedReason))
	<-run.ctx.Done()
	require.ErrorIs(t, context.Cause(run.ctx), ErrStopped)

	stopped := e.advanceTo(t, arn, "STOPPED")
	require.Empty(t, stopped.Tags)
	require.Equal(t, int32(143), aws.ToInt32(stopped.Containers[0].ExitCode))

	// Stopping a stopped task returns it, first reason kept; the short id
	// works as well as the ARN.
	snap, _ := e.sim.Task(arn)
	again, err := e.ecs.StopTask(e.ctx, &ecs.StopTaskInput{Task: aws.String(snap.ID), Reason: aws.String("again")})
	require.NoError(t, err)
	require.Equal(t, "bot left", aws.ToString(again.Task.StoppedReason))
	require.Equal(t, "STOPPED", aws.ToString(again.Task.LastStatus))

	_, err = e.ecs.StopTask(e.ctx, &ecs.StopTaskInput{Task: aws.String("0123456789abcdef0123456789abcdef")})
	var invalid *types.InvalidParameterException
	require.ErrorAs(t, err, &invalid)
}

func TestStopBeforeTheContainerStarts(t *testing.T) {
	t.Parallel()
	wl := newScripted()
	e := newSim(t, Config{Workload: wl.workload})
	arn := e.runOne(t)
	_, err := e.ecs.StopTask(e.ctx, &ecs.StopTaskInput{Task: aws.String(arn)})
	require.NoError(t, err)
	stopped := e.advanceTo(t, arn, "STOPPED")
	require.Nil(t, stopped.Containers[0].ExitCode)
	require.Nil(t, stopped.StartedAt)
	require.Equal(t, types.TaskStopCodeUserInitiated, stopped.StopCode)
	require.Zero(t, e.sim.Stats().WorkloadStarts)
	require.Empty(t, wl.runs)
}

func TestActivatingStatesAndStopTimeout(t *testing.T) {
	t.Parallel()
	started, release := make(chan struct{}, 1), make(chan struct{})
	stubborn := func(ctx context.Context, _ map[string]string) int {
		started <- struct{}{}
		<-ctx.Done()
		<-release // ignores SIGTERM until the test is over
		return 0
	}
	e := newSim(t, Config{Workload: stubborn, ActivatingDelay: time.Second, StopTimeout: 10 * time.Second})
	t.Cleanup(func() { close(release) }) // runs before the simulator's Close
	arn := e.runOne(t)
	e.advanceTo(t, arn, "ACTIVATING")
	e.advanceTo(t, arn, "RUNNING")
	<-started
	_, err := e.ecs.StopTask(e.ctx, &ecs.StopTaskInput{Task: aws.String(arn)})
	require.NoError(t, err)
	require.Equal(t, "DEACTIVATING", aws.ToString(e.describe(t, arn).LastStatus))
	e.advanceTo(t, arn, "STOPPING")
	e.clock.Advance(9 * time.Second)
	require.Equal(t, "STOPPING", aws.ToString(e.describe(t, arn).LastStatus), "still inside the stop timeout")
	stopped := e.advanceTo(t, arn, "STOPPED")
	require.Equal(t, int32(137), aws.ToInt32(stopped.Containers[0].ExitCode), "SIGKILL after stopTimeout")
}

func TestStoppedTasksAreRetainedForAnHour(t *testing.T) {
	t.Parallel()
	e := newSim(t, Config{})
	arn := e.runOne(t)
	_, err := e.ecs.StopTask(e.ctx, &ecs.StopTaskInput{Task: aws.String(arn)})
	require.NoError(t, err)
	e.advanceTo(t, arn, "STOPPED")

	e.clock.Advance(59 * time.Minute)
	e.describe(t, arn)
	listed, err := e.ecs.ListTasks(e.ctx, &ecs.ListTasksInput{DesiredStatus: types.DesiredStatusStopped})
	require.NoError(t, err)
	require.Equal(t, []string{arn}, listed.TaskArns)

	e.clock.Advance(2 * time.Minute)
	out, err := e.ecs.DescribeTasks(e.ctx, &ecs.DescribeTasksInput{Tasks: []string{arn}})
	require.NoError(t, err)
	require.Empty(t, out.Tasks)
	require.Equal(t, []types.Failure{{Arn: aws.String(arn), Reason: aws.String("MISSING")}}, out.Failures)
	_, err = e.ecs.StopTask(e.ctx, &ecs.StopTaskInput{Task: aws.String(arn)})
	require.Equal(t, "InvalidParameterException", apiCode(err))
	snap, _ := e.sim.Task(arn)
	require.True(t, snap.Forgotten)
}

func TestExternalStopsCrashesAndVanishes(t *testing.T) {
	t.Parallel()
	wl := newScripted()
	e := newSim(t, Config{Workload: wl.workload})
	spot := e.runOne(t)
	crash := e.runOne(t)
	gone := e.runOne(t)
	for _, arn := range []string{spot, crash, gone} {
		e.advanceTo(t, arn, "RUNNING")
	}
	require.NoError(t, e.sim.StopTaskExternally(spot, types.TaskStopCodeSpotInterruption, "Your Spot Task was interrupted."))
	require.NoError(t, e.sim.CrashTask(crash, 137))
	require.NoError(t, e.sim.VanishTask(gone))
	require.ErrorIs(t, e.sim.CrashTask("ffffffffffffffffffffffffffffffff", 1), errNoTask)

	s := e.advanceTo(t, spot, "STOPPED")
	require.Equal(t, types.TaskStopCodeSpotInterruption, s.StopCode)
	require.Equal(t, "Your Spot Task was interrupted.", aws.ToString(s.StoppedReason))
	c := e.advanceTo(t, crash, "STOPPED")
	require.Equal(t, types.TaskStopCodeEssentialContainerExited, c.StopCode)
	require.Equal(t, int32(137), aws.ToInt32(c.Containers[0].ExitCode))

	out, err := e.ecs.DescribeTasks(e.ctx, &ecs.DescribeTasksInput{Tasks: []string{gone}})
	require.NoError(t, err)
	require.Len(t, out.Failures, 1)
	require.Equal(t, "MISSING", aws.ToString(out.Failures[0].Reason))
	snap, _ := e.sim.Task(gone)
	require.True(t, snap.Vanished)
	require.Zero(t, e.sim.Stats().Active)
}

func TestFailedStart(t *testing.T) {
	t.Parallel()
	e := newSim(t, Config{})
	e.sim.FailNextStarts(1, "CannotPullContainerError: pull image manifest has been retried 5 time(s)")
	arn := e.runOne(t)
	ok := e.runOne(t)
	stopped := e.advanceTo(t, arn, "STOPPED")
	require.Equal(t, types.TaskStopCodeTaskFailedToStart, stopped.StopCode)
	require.Contains(t, aws.ToString(stopped.StoppedReason), "CannotPullContainerError")
	require.Contains(t, aws.ToString(stopped.Containers[0].Reason), "CannotPullContainerError")
	require.Nil(t, stopped.Containers[0].ExitCode)
	require.Equal(t, "RUNNING", aws.ToString(e.describe(t, ok).LastStatus))
}
