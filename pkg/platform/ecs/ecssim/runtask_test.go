package ecssim

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/require"
)

func TestRunTaskValidation(t *testing.T) {
	t.Parallel()
	e := newSim(t, Config{})
	tags := func(n int, key string) []types.Tag {
		out := make([]types.Tag, n)
		for i := range out {
			out[i] = types.Tag{Key: aws.String(key + strings.Repeat("k", i)), Value: aws.String("v")}
		}
		return out
	}
	cases := map[string]struct {
		mutate func(*ecs.RunTaskInput)
		code   string
	}{
		"count 0":           {func(in *ecs.RunTaskInput) { in.Count = aws.Int32(0) }, "InvalidParameterException"},
		"count 11":          {func(in *ecs.RunTaskInput) { in.Count = aws.Int32(11) }, "InvalidParameterException"},
		"unknown cluster":   {func(in *ecs.RunTaskInput) { in.Cluster = aws.String("nope") }, "ClusterNotFoundException"},
		"unknown task def":  {func(in *ecs.RunTaskInput) { in.TaskDefinition = aws.String("zoom") }, "ClientException"},
		"unknown revision":  {func(in *ecs.RunTaskInput) { in.TaskDefinition = aws.String("bot:2") }, "ClientException"},
		"no network config": {func(in *ecs.RunTaskInput) { in.NetworkConfiguration = nil }, "InvalidParameterException"},
		"no subnets": {func(in *ecs.RunTaskInput) {
			in.NetworkConfiguration.AwsvpcConfiguration.Subnets = []string{}
		}, "InvalidParameterException"},
		"no launch type": {func(in *ecs.RunTaskInput) { in.LaunchType = "" }, "InvalidParameterException"},
		"EC2":            {func(in *ecs.RunTaskInput) { in.LaunchType = types.LaunchTypeEc2 }, "InvalidParameterException"},
		"launch type and strategy": {func(in *ecs.RunTaskInput) {
			in.CapacityProviderStrategy = []types.CapacityProviderStrategyItem{{CapacityProvider: aws.String("FARGATE"), Weight: 1}}
		}, "InvalidParameterException"},
		"unknown provider": {func(in *ecs.RunTaskInput) {
			in.LaunchType = ""
			in.CapacityProviderStrategy = []types.CapacityProviderStrategyItem{{CapacityProvider: aws.String("EC2-ASG"), Weight: 1}}
		}, "InvalidParameterException"},
		"startedBy charset": {func(in *ecs.RunTaskInput) { in.StartedBy = aws.String("ctl:1") }, "InvalidParameterException"},
		"startedBy length":  {func(in *ecs.RunTaskInput) { in.StartedBy = aws.String(strings.Repeat("a", 129)) }, "InvalidParameterException"},
		"aws: tag":          {func(in *ecs.RunTaskInput) { in.Tags = tags(1, "AWS:owner") }, "InvalidParameterException"},
		"51 tags":           {func(in *ecs.RunTaskInput) { in.Tags = tags(51, "t") }, "InvalidParameterException"},
		"client token":      {func(in *ecs.RunTaskInput) { in.ClientToken = aws.String(strings.Repeat("x", 65)) }, "InvalidParameterException"},
		"other container": {func(in *ecs.RunTaskInput) {
			in.Overrides = &types.TaskOverride{ContainerOverrides: []types.ContainerOverride{{Name: aws.String("sidecar")}}}
		}, "InvalidParameterException"},
		"overrides over 8 KiB": {func(in *ecs.RunTaskInput) {
			in.Overrides = &types.TaskOverride{ContainerOverrides: []types.ContainerOverride{{Name: aws.String("bot"),
				Environment: []types.KeyValuePair{{Name: aws.String("BIG"), Value: aws.String(strings.Repeat("x", 8200))}}}}}
		}, "InvalidParameterException"},
	}
	for name, tc := range cases {
		_, err := e.ecs.RunTask(e.ctx, runInput(tc.mutate))
		require.Error(t, err, name)
		require.Equal(t, tc.code, apiCode(err), "%s: %v", name, err)
	}
	require.Zero(t, e.sim.Stats().Launched)

	// The limits themselves pass: 10 tasks, 50 tags, 128-character startedBy.
	out := e.run(t, func(in *ecs.RunTaskInput) {
		in.Count = aws.Int32(10)
		in.Tags = tags(50, "t")
		in.StartedBy = aws.String(strings.Repeat("a/-_", 32))
		in.TaskDefinition = aws.String("arn:aws:ecs:us-east-1:123456789012:task-definition/bot:1")
		in.Cluster = aws.String("arn:aws:ecs:us-east-1:123456789012:cluster/default")
	})
	require.Len(t, out.Tasks, 10)
}

func TestClientTokenIdempotency(t *testing.T) {
	t.Parallel()
	e := newSim(t, Config{Clusters: []string{"default", "other"}})
	withToken := func(tok string) func(*ecs.RunTaskInput) {
		return func(in *ecs.RunTaskInput) {
			in.ClientToken = aws.String(tok)
			in.StartedBy = aws.String("ctl")
		}
	}
	first := e.runOne(t, withToken("meeting-42-1"))
	again := e.runOne(t, withToken("meeting-42-1"))
	require.Equal(t, first, again, "same token, same parameters: the same task")
	require.Equal(t, 1, e.sim.Stats().Launched)
	require.Equal(t, 1, e.sim.Stats().Replays)

	_, err := e.ecs.RunTask(e.ctx, runInput(withToken("meeting-42-1"), func(in *ecs.RunTaskInput) {
		in.StartedBy = aws.String("someone-else")
	}))
	var conflict *types.ConflictException
	require.ErrorAs(t, err, &conflict)
	require.Equal(t, []string{first}, conflict.ResourceIds)

	// Tokens are scoped per cluster.
	other := e.runOne(t, withToken("meeting-42-1"), func(in *ecs.RunTaskInput) { in.Cluster = aws.String("other") })
	require.NotEqual(t, first, other)
	require.Contains(t, other, ":task/other/")

	// They live 24 hours.
	e.clock.Advance(24 * time.Hour)
	later := e.runOne(t, withToken("meeting-42-1"))
	require.NotEqual(t, first, later)
	require.Equal(t, 3, e.sim.Stats().Launched)
}

func TestLostAnswerIsRecoveredWithTheClientToken(t *testing.T) {
	t.Parallel()
	e := newSim(t, Config{})
	e.sim.SetErrorAfterRate(1)
	_, err := e.ecs.RunTask(e.ctx, runInput(func(in *ecs.RunTaskInput) { in.ClientToken = aws.String("tok-1") }))
	var server *types.ServerException
	require.ErrorAs(t, err, &server)
	e.sim.SetErrorAfterRate(0)
	arn := e.runOne(t, func(in *ecs.RunTaskInput) { in.ClientToken = aws.String("tok-1") })
	require.Len(t, e.sim.Tasks(), 1)
	require.Equal(t, e.sim.Tasks()[0].ARN, arn)
	require.Equal(t, "tok-1", e.sim.Tasks()[0].ClientToken)
}

func TestCapacityFailuresArePartial(t *testing.T) {
	t.Parallel()
	e := newSim(t, Config{})
	e.sim.SetCapacityFailures("RESOURCE:MEMORY", 2)
	out := e.run(t, func(in *ecs.RunTaskInput) { in.Count = aws.Int32(5) })
	require.Len(t, out.Tasks, 3)
	require.Len(t, out.Failures, 2)
	for _, f := range out.Failures {
		require.Equal(t, "RESOURCE:MEMORY", aws.ToString(f.Reason))
	}
	require.Len(t, e.run(t).Tasks, 1, "the knob is used up")
	require.Equal(t, 2, e.sim.Stats().Failures)
}

func TestFargateCapacityUnavailable(t *testing.T) {
	t.Parallel()
	e := newSim(t, Config{})
	e.sim.CapacityUnavailable(time.Minute)
	out := e.run(t, func(in *ecs.RunTaskInput) { in.Count = aws.Int32(2) })
	require.Empty(t, out.Tasks)
	require.Len(t, out.Failures, 2)
	require.Equal(t, ReasonCapacityUnavailable, aws.ToString(out.Failures[0].Reason))

	e.sim.SetCapacityAsError(true)
	_, err := e.ecs.RunTask(e.ctx, runInput())
	var client *types.ClientException
	require.ErrorAs(t, err, &client)
	require.Equal(t, ReasonCapacityUnavailable, aws.ToString(client.Message))

	e.clock.Advance(time.Minute)
	require.Len(t, e.run(t).Tasks, 1)
}

func TestCapacityProviderStrategy(t *testing.T) {
	t.Parallel()
	e := newSim(t, Config{})
	out := e.run(t, func(in *ecs.RunTaskInput) {
		in.LaunchType = ""
		in.Count = aws.Int32(4)
		in.CapacityProviderStrategy = []types.CapacityProviderStrategyItem{
			{CapacityProvider: aws.String("FARGATE"), Base: 1},
			{CapacityProvider: aws.String("FARGATE_SPOT"), Weight: 1},
		}
	})
	require.Len(t, out.Tasks, 4)
	got := map[string]int{}
	for _, task := range out.Tasks {
		got[aws.ToString(task.CapacityProviderName)]++
		require.Equal(t, types.LaunchTypeFargate, task.LaunchType)
	}
	require.Equal(t, map[string]int{"FARGATE": 1, "FARGATE_SPOT": 3}, got)
}

func TestProvisioningQuota(t *testing.T) {
	t.Parallel()
	e := newSim(t, Config{MaxProvisioningTasks: 10})
	e.run(t, func(in *ecs.RunTaskInput) { in.Count = aws.Int32(10) })
	_, err := e.ecs.RunTask(e.ctx, runInput())
	require.Equal(t, "ClientException", apiCode(err))
	e.clock.Advance(time.Second) // PROVISIONING is over
	e.run(t)
}
