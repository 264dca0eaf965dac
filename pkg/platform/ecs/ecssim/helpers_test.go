package ecssim

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/hack/devenv/fakeclock"
)

const (
	testKeyID  = "AKIDSIMTEST"
	testSecret = "sim-test-secret"
	waitFor    = 5 * time.Second
	tick       = 5 * time.Millisecond
)

// newFakeClock is the tests' clock, at a fixed start.
func newFakeClock() *fakeclock.Clock {
	return fakeclock.New(time.Date(2026, 8, 22, 10, 0, 0, 0, time.UTC))
}

// env is one test's simulator, its URL and an SDK client.
type env struct {
	sim   *Sim
	url   string
	ecs   *ecs.Client
	clock *fakeclock.Clock
	ctx   context.Context
}

// newSim starts a simulator with short latencies, throttling off and a
// fake clock, and an SDK client without retries that talks to it.
func newSim(t *testing.T, cfg Config) *env {
	t.Helper()
	cfg.NoThrottle = true
	return startSim(t, cfg)
}

// startSim is newSim without turning throttling off.
func startSim(t *testing.T, cfg Config) *env {
	t.Helper()
	clock := newFakeClock()
	if cfg.Clock == nil {
		cfg.Clock = clock
	}
	if cfg.AccessKeyID == "" {
		cfg.AccessKeyID, cfg.SecretAccessKey = testKeyID, testSecret
	}
	if cfg.ProvisioningDelay == 0 {
		cfg.ProvisioningDelay = time.Second
	}
	if cfg.PendingDelay == 0 {
		cfg.PendingDelay = 2 * time.Second
	}
	if cfg.StopDelay == 0 {
		cfg.StopDelay = 2 * time.Second
	}
	s, srv := NewServer(t, cfg)
	return &env{sim: s, url: srv.URL, ecs: newClient(srv.URL, cfg.AccessKeyID, cfg.SecretAccessKey, "us-east-1"),
		clock: clock, ctx: t.Context()}
}

// newClient is the real SDK client. It retries only broken connections (a
// TCP reset racing keep-alive reuse, aws-sdk-go-v2#2737), so tests still see
// every answer the simulator gives.
func newClient(url, keyID, secret, region string) *ecs.Client {
	return ecs.New(ecs.Options{
		Region:       region,
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider(keyID, secret, ""),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = 3
			o.Retryables = []retry.IsErrorRetryable{retry.RetryableConnectionError{}}
			o.RateLimiter = ratelimit.None
			o.Backoff = retry.NewExponentialJitterBackoff(10 * time.Millisecond)
		}),
	})
}

// runInput is a valid Fargate RunTask; mutate adjusts it.
func runInput(mutate ...func(*ecs.RunTaskInput)) *ecs.RunTaskInput {
	in := &ecs.RunTaskInput{
		Cluster:        aws.String("default"),
		TaskDefinition: aws.String("bot"),
		LaunchType:     types.LaunchTypeFargate,
		NetworkConfiguration: &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{
			Subnets: []string{"subnet-0abc"}, SecurityGroups: []string{"sg-1"}, AssignPublicIp: types.AssignPublicIpDisabled,
		}},
	}
	for _, m := range mutate {
		m(in)
	}
	return in
}

// run starts tasks and requires success.
func (e *env) run(t *testing.T, mutate ...func(*ecs.RunTaskInput)) *ecs.RunTaskOutput {
	t.Helper()
	out, err := e.ecs.RunTask(e.ctx, runInput(mutate...))
	require.NoError(t, err)
	return out
}

// runOne starts one task and returns its ARN.
func (e *env) runOne(t *testing.T, mutate ...func(*ecs.RunTaskInput)) string {
	t.Helper()
	out := e.run(t, mutate...)
	require.Len(t, out.Tasks, 1)
	require.Empty(t, out.Failures)
	return aws.ToString(out.Tasks[0].TaskArn)
}

// describe is DescribeTasks of one task that must exist.
func (e *env) describe(t *testing.T, arn string) types.Task {
	t.Helper()
	out, err := e.ecs.DescribeTasks(e.ctx, &ecs.DescribeTasksInput{Cluster: aws.String("default"), Tasks: []string{arn},
		Include: []types.TaskField{types.TaskFieldTags}})
	require.NoError(t, err)
	require.Empty(t, out.Failures)
	require.Len(t, out.Tasks, 1)
	return out.Tasks[0]
}

// advanceTo moves the clock in steps until the task's lastStatus is want.
func (e *env) advanceTo(t *testing.T, arn, want string) types.Task {
	t.Helper()
	var last string
	for range 100 {
		task := e.describe(t, arn)
		if last = aws.ToString(task.LastStatus); last == want {
			return task
		}
		e.clock.Advance(100 * time.Millisecond)
	}
	t.Fatalf("task never reached %s (last %s)", want, last)
	return types.Task{}
}

// apiCode is the error code of an SDK error ("" if none).
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// workloadRun is one run of a scripted workload.
type workloadRun struct {
	ctx  context.Context
	env  map[string]string
	exit chan int
}

// scripted is a Workload the test drives: each run is announced on runs
// and returns the code sent on its exit channel, or 143 when stopped.
type scripted struct{ runs chan workloadRun }

func newScripted() *scripted { return &scripted{runs: make(chan workloadRun, 100)} }

func (w *scripted) workload(ctx context.Context, env map[string]string) int {
	r := workloadRun{ctx: ctx, env: env, exit: make(chan int, 1)}
	w.runs <- r
	select {
	case code := <-r.exit:
		return code
	case <-ctx.Done():
		return 143
	}
}

func (w *scripted) next(t *testing.T) workloadRun {
	t.Helper()
	select {
	case r := <-w.runs:
		return r
	case <-time.After(waitFor):
		t.Fatal("no workload started")
		return workloadRun{}
	}
}
