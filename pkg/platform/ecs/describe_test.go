package ecs

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/pkg/platform"
)

// Describe answers every ARN asked, found or MISSING, 100 ARNs a call.
func TestSimDescribe(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32 // DescribeTasks calls, SDK retries included
	b := setupSim(t, opts{config: func(c *Config) {
		c.OnRequest = func(op string, _ error, _ time.Duration) {
			if op == "DescribeTasks" {
				calls.Add(1)
			}
		}
	}})
	ctx := context.Background()
	running, err := b.Create(ctx, workload("meeboter-b1-1", nil))
	require.NoError(t, err)
	crashed, err := b.Create(ctx, workload("meeboter-b2-1", nil))
	require.NoError(t, err)
	vanished, err := b.Create(ctx, workload("meeboter-b3-1", nil))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		for _, arn := range []string{running, crashed, vanished} {
			if snap, _ := b.sim.Task(arn); snap.LastStatus != "RUNNING" {
				return false
			}
		}
		return true
	}, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, b.sim.CrashTask(crashed, 3))
	require.Eventually(t, func() bool { snap, _ := b.sim.Task(crashed); return snap.LastStatus == "STOPPED" },
		10*time.Second, 5*time.Millisecond)
	require.NoError(t, b.sim.VanishTask(vanished))

	// Unknown ARNs of the cluster fill the first call past 100.
	asked := []string{running, crashed, vanished, running}
	var unknown []string
	for i := range 100 {
		arn := fmt.Sprintf("arn:aws:ecs:us-east-1:123456789012:task/bots/%032x", i)
		asked, unknown = append(asked, arn), append(unknown, arn)
	}
	calls.Store(0)
	found, missing, err := b.Describe(ctx, asked)
	require.NoError(t, err)
	require.EqualValues(t, 2, calls.Load(), "103 distinct ARNs: two calls")
	require.ElementsMatch(t, append([]string{vanished}, unknown...), missing)
	require.Len(t, found, 2)
	byARN := map[string]platform.Listed{}
	for _, l := range found {
		byARN[l.ExternalID] = l
	}
	require.Equal(t, platform.PhaseRunning, byARN[running].Phase)
	require.Equal(t, "meeboter-b1-1", byARN[running].Name)
	require.Equal(t, platform.PhaseExited, byARN[crashed].Phase)
	require.Equal(t, 3, *byARN[crashed].ExitCode)
	require.True(t, byARN[crashed].Released)

	// A bare task id is answered as asked, though ECS answers with the ARN.
	id := taskID(running)
	found, missing, err = b.Describe(ctx, []string{id})
	require.NoError(t, err)
	require.Empty(t, missing)
	require.Len(t, found, 1)
	require.Equal(t, id, found[0].ExternalID)

	// Nothing asked, nothing called.
	calls.Store(0)
	found, missing, err = b.Describe(ctx, []string{"", ""})
	require.NoError(t, err)
	require.Empty(t, found)
	require.Empty(t, missing)
	require.Zero(t, calls.Load())
}

// A failed call is an error, never a partial answer.
func TestSimDescribeFails(t *testing.T) {
	t.Parallel()
	b := setupSim(t, opts{})
	b.sim.SetErrorRate(1)
	found, missing, err := b.Describe(context.Background(),
		[]string{"arn:aws:ecs:us-east-1:123456789012:task/bots/0123456789abcdef0123456789abcdef"})
	require.Error(t, err)
	require.Nil(t, found)
	require.Nil(t, missing)
}

// ListIDs lists the ARNs of running tasks only, from ListTasks alone.
func TestSimListIDs(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	calls := map[string]int{}
	b := setupSim(t, opts{config: func(c *Config) {
		c.OnRequest = func(op string, _ error, _ time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			calls[op]++
		}
	}})
	ctx := context.Background()
	var running []string
	for i := range 3 {
		arn, err := b.Create(ctx, workload(fmt.Sprintf("meeboter-b%d-1", i), nil))
		require.NoError(t, err)
		running = append(running, arn)
	}
	stopped, err := b.Create(ctx, workload("meeboter-stopped-1", nil))
	require.NoError(t, err)
	_, err = b.Stop(ctx, "meeboter-stopped-1", stopped)
	require.NoError(t, err)

	mu.Lock()
	clear(calls)
	mu.Unlock()
	ids, err := b.ListIDs(ctx)
	require.NoError(t, err)
	require.ElementsMatch(t, running, ids)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, map[string]int{"ListTasks": 1}, calls)
}
