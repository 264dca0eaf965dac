package ecs_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsecs "github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/api"
	"github.com/meeboter/meeboter/pkg/store"
)

func TestECSBotReachesDoneAndTaskStops(t *testing.T) {
	t.Parallel()
	b := setup(t, defaultOpts())
	v := b.CreateBot(t, meetURL, nil)
	done := b.WaitStatus(t, v.ID, 30*time.Second, store.StatusDone, store.StatusFatal)
	require.Equal(t, store.StatusDone, done.Status, "reason %v", done.StatusReason)
	require.Eventually(t, func() bool { return b.runningTasks() == 0 }, 20*time.Second, 50*time.Millisecond)
	tasks := b.sim.Tasks()
	require.Len(t, tasks, 1, "one task per attempt")
	require.Equal(t, v.ID.String(), tasks[0].Env["BOT_ID"])
}

func TestECSCancelAndLeaveStopTheTask(t *testing.T) {
	t.Parallel()
	b := setup(t, defaultOpts())
	for _, stop := range []struct{ method, suffix, reason string }{
		{http.MethodDelete, "", store.ReasonCancelled},
		{http.MethodPost, "/leave", store.ReasonRemoved},
	} {
		v := b.CreateBot(t, meetURL, map[string]any{"call_seconds": 0, "ignore_leave": stop.suffix == ""})
		b.WaitStatus(t, v.ID, 20*time.Second, store.StatusInCall)
		require.Equal(t, http.StatusAccepted, b.Call(t, stop.method, "/api/v1/bots/"+v.ID.String()+stop.suffix, nil, nil))
		done := b.WaitStatus(t, v.ID, 20*time.Second, store.StatusDone, store.StatusFatal)
		require.Equal(t, stop.reason, *done.StatusReason)
		require.Eventually(t, func() bool { return b.runningTasks() == 0 }, 20*time.Second, 50*time.Millisecond,
			"the bot's task still runs")
	}
}

func TestECSMissingAndTransientErrorsNeverFailBots(t *testing.T) {
	t.Parallel()
	o := defaultOpts()
	o.sim.ConsistencyLag = 2 * time.Second // a fresh task is MISSING for a while
	b := setup(t, o)
	b.sim.SetErrorRate(0.2)
	var bots []string
	for range 3 {
		bots = append(bots, b.CreateBot(t, meetURL, nil).ID.String())
	}
	for _, id := range bots {
		v := b.WaitStatus(t, mustUUID(id), time.Minute, store.StatusDone, store.StatusFatal)
		require.Equal(t, store.StatusDone, v.Status, "reason %v", v.StatusReason)
	}
}

func TestECSOrphanTaskIsStoppedWithinOneGCPeriod(t *testing.T) {
	t.Parallel()
	o := defaultOpts()
	o.gcGrace = time.Second
	b := setup(t, o)
	// A task of ours (startedBy) that no deployment row knows.
	out, err := b.client.RunTask(context.Background(), &awsecs.RunTaskInput{Cluster: aws.String(cluster),
		TaskDefinition: aws.String("meeboter-zoom-bot:1"), LaunchType: types.LaunchTypeFargate, StartedBy: aws.String("meeboter"),
		NetworkConfiguration: &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{Subnets: []string{"subnet-1"}}}})
	require.NoError(t, err)
	require.Len(t, out.Tasks, 1)
	arn := *out.Tasks[0].TaskArn
	require.Eventually(t, func() bool { task, _ := b.sim.Task(arn); return task.LastStatus == "RUNNING" }, 10*time.Second,
		20*time.Millisecond)
	require.Eventually(t, func() bool { task, _ := b.sim.Task(arn); return task.LastStatus == "STOPPED" }, 15*time.Second,
		50*time.Millisecond, "the orphan task was not stopped")
	task, _ := b.sim.Task(arn)
	require.Equal(t, "UserInitiated", string(task.StopCode), "stopped by the controller, not by itself")
}

func TestECSThrottlingAndCapacityFailuresFallBack(t *testing.T) {
	t.Parallel()
	o := defaultOpts()
	o.fallback = true
	b := setup(t, o)
	b.sim.ThrottleStorm(3 * time.Second)
	// One call meets the storm for sure, however slow the machine (the SDK
	// retries it, so it may well succeed).
	_, _ = b.client.ListClusters(context.Background(), &awsecs.ListClustersInput{})
	b.sim.SetCapacityFailures("RESOURCE:MEMORY", 2)
	var bots []string
	for range 4 {
		bots = append(bots, b.CreateBot(t, meetURL, nil).ID.String())
	}
	// Settled: every bot is DONE on ECS or deploying on the fallback.
	var views map[string]api.BotView
	require.Eventually(t, func() bool {
		views = map[string]api.BotView{}
		for _, id := range bots {
			var v api.BotView
			b.Call(t, http.MethodGet, "/api/v1/bots/"+id, nil, &v)
			require.NotEqual(t, store.StatusFatal, v.Status, "no bot fails: reason %v", v.StatusReason)
			if v.Status != store.StatusDone && (v.Platform == nil || *v.Platform != "fake") {
				return false
			}
			views[id] = v
		}
		return true
	}, time.Minute, 50*time.Millisecond)
	moved := 0
	for _, v := range views {
		if *v.Platform == "fake" {
			moved++
		}
	}
	// The two RESOURCE:MEMORY failures fell back; an attempt whose RunTask
	// gave up under the storm may fall back too, if its retry is refused.
	require.GreaterOrEqual(t, moved, 2, "the RESOURCE:MEMORY failures fell back to the next platform")
	require.Len(t, b.fallback.Created(), moved)
	require.Positive(t, b.sim.Stats().Throttled, "the storm happened")
}
