package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/botsim"
	"github.com/meeboter/meeboter/pkg/platform/ecs/ecssim"
)

// ecsSystem is a system whose controller deploys to an ECS simulator in
// this test process, through the real AWS SDK; its tasks run simulated bots
// in-process that call the controller's API.
func ecsSystem(t *testing.T, extraEnv ...string) (*system, *ecssim.Sim) {
	t.Helper()
	settings := botsim.DefaultSettings()
	sim, srv := ecssim.NewServer(t, ecssim.Config{AccessKeyID: "AKIDE2E", SecretAccessKey: "e2e-secret", Clusters: []string{"bots"},
		TaskDefinitions:   map[string]ecssim.TaskDef{"meeboter-google-meet-bot:1": {ContainerName: "bot"}},
		ProvisioningDelay: 100 * time.Millisecond, PendingDelay: 300 * time.Millisecond, StopDelay: 100 * time.Millisecond,
		StopTimeout: 2 * time.Second,
		Workload: func(ctx context.Context, env map[string]string) int {
			return botsim.RunWithEnv(ctx, env, settings)
		}})
	env := append([]string{"DEPLOYMENT_PLATFORM=aws", "AWS_REGION=us-east-1", "ECS_CLUSTER=bots",
		"ECS_TASK_DEF_GOOGLE_MEET=meeboter-google-meet-bot:1", "ECS_SUBNETS=subnet-1", "AWS_ENDPOINT_URL_ECS=" + srv.URL,
		"AWS_ACCESS_KEY_ID=AKIDE2E", "AWS_SECRET_ACCESS_KEY=e2e-secret", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_BOT_LIMIT=300"}, extraEnv...)
	return newSystem(t, env...), sim
}

// TestECSCrashRecovery SIGKILLs `meeboter serve` during a 200-bot ECS run
// and restarts it: one task per attempt (the client token adopts a task
// started just before a crash), no task leaked, every bot ends with a reason.
func TestECSCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: run without -short")
	}
	t.Parallel()
	s, sim := ecsSystem(t)
	f := &fleet{s: s}
	addr := freeAddr(t)
	logs := &lockedBuffer{}
	c := s.start(addr, logs)

	const bots, iterations = 200, 4
	c = crashRun{bots: bots, crashes: iterations, spread: 5 * time.Second, minCall: 1, callRange: 3,
		minUp: 700 * time.Millisecond, upRange: 2 * time.Second, down: 800 * time.Millisecond}.run(t, f, addr, logs, c)
	outcomes := f.checkConverged(t, addr, 4*time.Minute)

	require.Eventually(t, func() bool {
		for _, task := range sim.Tasks() {
			if task.LastStatus != "STOPPED" {
				return false
			}
		}
		return true
	}, time.Minute, 100*time.Millisecond, "ECS tasks leaked")
	perAttempt := map[string]int{}
	for _, task := range sim.Tasks() {
		perAttempt[task.ClientToken]++
	}
	for token, n := range perAttempt {
		require.Equal(t, 1, n, "attempt %s has %d tasks", token, n)
	}
	st := sim.Stats()
	t.Logf("ECS crash test: %d crashes, %d bots, %d tasks, outcomes %v, ECS calls %v", iterations, bots, len(perAttempt), outcomes, st.Calls)
	c.stop(t)
}
