package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/require"
)

func TestCoolifyPrintsEnvAndServes(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"coolify", "--addr", "127.0.0.1:0", "--token", "1|t", "--project-uuid", "p",
			"--cold-start", "0"}, outW, io.Discard)
		_ = outW.Close()
	}()

	env := map[string]string{}
	sc := bufio.NewScanner(outR)
	for len(env) < 4 && sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		require.True(t, ok, sc.Text())
		env[k] = v
	}
	go func() { _, _ = io.Copy(io.Discard, outR) }()
	require.Equal(t, "1|t", env["COOLIFY_API_TOKEN"])
	require.Equal(t, "p", env["COOLIFY_PROJECT_UUID"])
	require.Regexp(t, `^[a-z0-9]{24}$`, env["COOLIFY_SERVER_UUID"])
	require.Regexp(t, `^http://127\.0\.0\.1:\d+/api/v1$`, env["COOLIFY_API_URL"])

	body := `{"project_uuid":"p","server_uuid":"` + env["COOLIFY_SERVER_UUID"] + `","environment_name":"production",` +
		`"docker_registry_image_name":"nginx","autogenerate_domain":false}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, env["COOLIFY_API_URL"]+"/applications/dockerimage", bytes.NewBufferString(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer 1|t")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusCreated, res.StatusCode)

	cancel()
	select {
	case code := <-done:
		require.Equal(t, 0, code)
	case <-time.After(10 * time.Second):
		t.Fatal("sim did not stop")
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	require.Equal(t, 2, run(context.Background(), []string{"nope"}, io.Discard, &stderr))
	require.Contains(t, stderr.String(), "usage")
	require.Equal(t, 2, run(context.Background(), []string{"ecs", "--task-def", "=bot"}, io.Discard, io.Discard))
	require.Equal(t, 2, run(context.Background(), []string{"ecs", "extra"}, io.Discard, io.Discard))
	require.Equal(t, 2, run(context.Background(), nil, io.Discard, io.Discard))
	require.Equal(t, 2, run(context.Background(), []string{"coolify", "--nope"}, io.Discard, io.Discard))
}

func TestECSPrintsEnvAndServes(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	outR, outW := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"ecs", "--addr", "127.0.0.1:0", "--access-key", "AKIDSIM", "--secret-key", "s3cret",
			"--region", "eu-west-1", "--cluster", "bots", "--task-def", "meet:2=bot", "--no-throttle",
			"--pending-delay", "0"}, outW, io.Discard)
		_ = outW.Close()
	}()

	env := map[string]string{}
	sc := bufio.NewScanner(outR)
	for len(env) < 5 && sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		require.True(t, ok, sc.Text())
		env[k] = v
	}
	go func() { _, _ = io.Copy(io.Discard, outR) }()
	require.Regexp(t, `^http://127\.0\.0\.1:\d+$`, env["AWS_ENDPOINT_URL_ECS"])
	require.Equal(t, map[string]string{"AWS_ENDPOINT_URL_ECS": env["AWS_ENDPOINT_URL_ECS"], "AWS_ACCESS_KEY_ID": "AKIDSIM",
		"AWS_SECRET_ACCESS_KEY": "s3cret", "AWS_REGION": "eu-west-1", "ECS_CLUSTER": "bots"}, env)

	client := ecs.New(ecs.Options{Region: env["AWS_REGION"], BaseEndpoint: aws.String(env["AWS_ENDPOINT_URL_ECS"]),
		Credentials: credentials.NewStaticCredentialsProvider(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], ""),
		Retryer:     aws.NopRetryer{}})
	out, err := client.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String(env["ECS_CLUSTER"]), TaskDefinition: aws.String("meet"),
		LaunchType: types.LaunchTypeFargate, NetworkConfiguration: &types.NetworkConfiguration{
			AwsvpcConfiguration: &types.AwsVpcConfiguration{Subnets: []string{"subnet-1"}}}})
	require.NoError(t, err)
	require.Len(t, out.Tasks, 1)
	require.Equal(t, "arn:aws:ecs:eu-west-1:123456789012:task-definition/meet:2", aws.ToString(out.Tasks[0].TaskDefinitionArn))
	require.Eventually(t, func() bool {
		d, err := client.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String("bots"), Tasks: []string{aws.ToString(out.Tasks[0].TaskArn)}})
		return err == nil && len(d.Tasks) == 1 && aws.ToString(d.Tasks[0].LastStatus) == "RUNNING"
	}, 5*time.Second, 10*time.Millisecond)

	cancel()
	select {
	case code := <-done:
		require.Equal(t, 0, code)
	case <-time.After(10 * time.Second):
		t.Fatal("sim did not stop")
	}
}
