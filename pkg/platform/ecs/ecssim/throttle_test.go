package ecssim

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/clock"
)

func TestReadBucketBurstAndRefill(t *testing.T) {
	t.Parallel()
	e := startSim(t, Config{})
	list := func() error {
		_, err := e.ecs.ListTasks(e.ctx, &ecs.ListTasksInput{})
		return err
	}
	for i := range 100 {
		require.NoError(t, list(), "call %d is within the burst", i)
	}
	err := list()
	var ae smithy.APIError
	require.ErrorAs(t, err, &ae)
	require.Equal(t, "ThrottlingException", ae.ErrorCode())
	require.Equal(t, "Rate exceeded", ae.ErrorMessage())

	// DescribeTasks shares the bucket; RunTask (modify) has its own.
	_, err = e.ecs.DescribeTasks(e.ctx, &ecs.DescribeTasksInput{Tasks: []string{"x"}})
	require.Equal(t, "ThrottlingException", apiCode(err))
	e.runOne(t)

	e.clock.Advance(time.Second) // 20 tokens a second
	for range 20 {
		require.NoError(t, list())
	}
	require.Equal(t, "ThrottlingException", apiCode(list()))
	require.Equal(t, 3, e.sim.Stats().Throttled)
}

func TestFargateLaunchRateCountsTasks(t *testing.T) {
	t.Parallel()
	e := startSim(t, Config{})
	ten := func(in *ecs.RunTaskInput) { in.Count = aws.Int32(10) }
	for range 10 {
		require.Len(t, e.run(t, ten).Tasks, 10)
	}
	_, err := e.ecs.RunTask(e.ctx, runInput(ten))
	require.Equal(t, "ThrottlingException", apiCode(err), "100 tasks is the burst")

	// Spot has a bucket of its own.
	spot := func(in *ecs.RunTaskInput) {
		in.LaunchType = ""
		in.CapacityProviderStrategy = []types.CapacityProviderStrategyItem{{CapacityProvider: aws.String("FARGATE_SPOT"), Weight: 1}}
	}
	e.run(t, spot)

	e.clock.Advance(450 * time.Millisecond) // 9 tasks' worth: all or nothing
	_, err = e.ecs.RunTask(e.ctx, runInput(ten))
	require.Equal(t, "ThrottlingException", apiCode(err))
	e.clock.Advance(50 * time.Millisecond)
	require.Len(t, e.run(t, ten).Tasks, 10)
	require.Equal(t, 111, e.sim.Stats().Launched)
}

func TestThrottleStormAndSDKRetries(t *testing.T) {
	t.Parallel()
	e := newSim(t, Config{Clock: clock.Wall{}})
	e.sim.ThrottleStorm(time.Hour)
	_, err := e.ecs.ListTasks(e.ctx, &ecs.ListTasksInput{})
	require.Equal(t, "ThrottlingException", apiCode(err))

	// The SDK's standard retryer retries ThrottlingException: a storm that
	// ends between attempts is invisible to the caller.
	retrying := newClient(e.url, testKeyID, testSecret, "us-east-1")
	retrying = ecs.New(retrying.Options(), func(o *ecs.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.RateLimiter = ratelimit.None
			so.MaxBackoff = 300 * time.Millisecond
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 300 * time.Millisecond, nil })
		})
	})
	e.sim.ThrottleStorm(100 * time.Millisecond)
	_, err = retrying.ListTasks(e.ctx, &ecs.ListTasksInput{})
	require.NoError(t, err)
	require.GreaterOrEqual(t, e.sim.Stats().Throttled, 2)
}

func TestInjectedServerErrors(t *testing.T) {
	t.Parallel()
	e := newSim(t, Config{})
	e.sim.SetErrorRate(1)
	_, err := e.ecs.ListTasks(e.ctx, &ecs.ListTasksInput{})
	var server *types.ServerException
	require.ErrorAs(t, err, &server)
	e.sim.SetErrorRate(0)
	_, err = e.ecs.ListTasks(e.ctx, &ecs.ListTasksInput{})
	require.NoError(t, err)
	require.Equal(t, 1, e.sim.Stats().InjectedErrors)
	require.Equal(t, 1, e.sim.Stats().Errors["ServerException"])
}
