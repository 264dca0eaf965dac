package ecssim

import (
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/stretchr/testify/require"
)

// TestFailListsAndStopRecords: fail_lists fails exactly the next n reads
// (ListTasks and DescribeTasks, nothing else), and every StopTask that took
// effect is recorded with the state it found and the last failed read.
func TestFailListsAndStopRecords(t *testing.T) {
	t.Parallel()
	wl := newScripted()
	e := newSim(t, Config{Workload: wl.workload})
	arn := e.runOne(t, func(in *ecs.RunTaskInput) { in.ClientToken = aws.String("meeboter-b-1") })
	e.advanceTo(t, arn, "RUNNING")
	wl.next(t)

	// Before any failed read, a stop carries no list failure.
	early := e.runOne(t)
	_, err := e.ecs.StopTask(e.ctx, &ecs.StopTaskInput{Task: aws.String(early)})
	require.NoError(t, err)
	require.Nil(t, e.sim.Stops()[0].LastListFailure)
	require.False(t, e.sim.Stops()[0].WasRunning, "the task was still provisioning")

	var k knobsView
	require.Equal(t, http.StatusOK, control(t, e, http.MethodPost, "knobs", testSecret, map[string]any{"fail_lists": 2}, &k))
	require.Equal(t, 2, *k.FailLists)
	_, err = e.ecs.ListTasks(e.ctx, &ecs.ListTasksInput{})
	require.Equal(t, "ServerException", apiCode(err))
	_, err = e.ecs.DescribeClusters(e.ctx, &ecs.DescribeClustersInput{})
	require.NoError(t, err, "only task reads fail")
	_, err = e.ecs.DescribeTasks(e.ctx, &ecs.DescribeTasksInput{Tasks: []string{arn}})
	require.Equal(t, "ServerException", apiCode(err))
	failedAt := e.clock.Now()
	_, err = e.ecs.ListTasks(e.ctx, &ecs.ListTasksInput{})
	require.NoError(t, err, "two failures, then reads work again")
	require.Equal(t, 2, e.sim.Stats().InjectedErrors)

	_, err = e.ecs.StopTask(e.ctx, &ecs.StopTaskInput{Task: aws.String(arn)})
	require.NoError(t, err)
	var stops []StopRecord
	require.Equal(t, http.StatusOK, control(t, e, http.MethodGet, "stops", testSecret, nil, &stops))
	require.Len(t, stops, 2)
	got := stops[1]
	require.Equal(t, arn, got.TaskARN)
	require.Equal(t, "meeboter-b-1", got.ClientToken)
	require.Equal(t, "RUNNING", got.LastStatus)
	require.Equal(t, "RUNNING", got.DesiredStatus)
	require.True(t, got.WasRunning)
	require.NotNil(t, got.LastListFailure)
	require.True(t, got.LastListFailure.Equal(failedAt), "%s vs %s", got.LastListFailure, failedAt)

	// A stop of an unknown task takes no effect and is not recorded.
	_, err = e.ecs.StopTask(e.ctx, &ecs.StopTaskInput{Task: aws.String("nope")})
	require.Error(t, err)
	require.Len(t, e.sim.Stops(), 2)
}
