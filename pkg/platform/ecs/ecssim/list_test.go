package ecssim

import (
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/require"
)

func TestListTasksPagination(t *testing.T) {
	t.Parallel()
	e := newSim(t, Config{})
	want := map[string]bool{}
	for range 25 {
		for _, task := range e.run(t, func(in *ecs.RunTaskInput) { in.Count = aws.Int32(10) }).Tasks {
			want[aws.ToString(task.TaskArn)] = true
		}
	}
	require.Len(t, want, 250)

	var pages []int
	got := map[string]bool{}
	p := ecs.NewListTasksPaginator(e.ecs, &ecs.ListTasksInput{MaxResults: aws.Int32(100)})
	for p.HasMorePages() {
		page, err := p.NextPage(e.ctx)
		require.NoError(t, err)
		pages = append(pages, len(page.TaskArns))
		for _, arn := range page.TaskArns {
			require.False(t, got[arn], "listed twice: %s", arn)
			got[arn] = true
		}
	}
	require.Equal(t, []int{100, 100, 50}, pages)
	require.Equal(t, want, got)

	// Without maxResults a page is 100 too, and the token is opaque and tied
	// to its query.
	first, err := e.ecs.ListTasks(e.ctx, &ecs.ListTasksInput{})
	require.NoError(t, err)
	require.Len(t, first.TaskArns, 100)
	require.NotEmpty(t, aws.ToString(first.NextToken))
	_, err = e.ecs.ListTasks(e.ctx, &ecs.ListTasksInput{NextToken: first.NextToken, DesiredStatus: types.DesiredStatusStopped})
	require.Equal(t, "InvalidParameterException", apiCode(err))
	_, err = e.ecs.ListTasks(e.ctx, &ecs.ListTasksInput{NextToken: aws.String("garbage")})
	require.Equal(t, "InvalidParameterException", apiCode(err))
	for _, n := range []int32{0, 101} {
		_, err = e.ecs.ListTasks(e.ctx, &ecs.ListTasksInput{MaxResults: aws.Int32(n)})
		require.Equal(t, "InvalidParameterException", apiCode(err), "maxResults %d", n)
	}
}

func TestListTasksFilters(t *testing.T) {
	t.Parallel()
	e := newSim(t, Config{TaskDefinitions: map[string]TaskDef{"zoom:1": {}, "meet:4": {}}})
	by := func(startedBy, family string) func(*ecs.RunTaskInput) {
		return func(in *ecs.RunTaskInput) {
			in.StartedBy = aws.String(startedBy)
			in.TaskDefinition = aws.String(family)
		}
	}
	a := e.runOne(t, by("ctl-a", "zoom"))
	b := e.runOne(t, by("ctl-a", "meet"))
	c := e.runOne(t, by("ctl-b", "meet"))
	_, err := e.ecs.StopTask(e.ctx, &ecs.StopTaskInput{Task: aws.String(b)})
	require.NoError(t, err)

	list := func(in *ecs.ListTasksInput) []string {
		t.Helper()
		out, err := e.ecs.ListTasks(e.ctx, in)
		require.NoError(t, err)
		return out.TaskArns
	}
	require.Equal(t, []string{a, c}, list(&ecs.ListTasksInput{}), "default desiredStatus RUNNING: a stopping task is gone")
	require.Equal(t, []string{b}, list(&ecs.ListTasksInput{DesiredStatus: types.DesiredStatusStopped}), "stopping counts as STOPPED")
	require.Empty(t, list(&ecs.ListTasksInput{DesiredStatus: types.DesiredStatusPending}))
	require.Equal(t, []string{a}, list(&ecs.ListTasksInput{StartedBy: aws.String("ctl-a")}))
	require.Equal(t, []string{b}, list(&ecs.ListTasksInput{StartedBy: aws.String("ctl-a"), DesiredStatus: types.DesiredStatusStopped}))
	require.Equal(t, []string{c}, list(&ecs.ListTasksInput{Family: aws.String("meet")}))
	require.Equal(t, []string{a, c}, list(&ecs.ListTasksInput{LaunchType: types.LaunchTypeFargate}))

	e.advanceTo(t, b, "STOPPED")
	require.Equal(t, []string{b}, list(&ecs.ListTasksInput{DesiredStatus: types.DesiredStatusStopped}))

	_, err = e.ecs.ListTasks(e.ctx, &ecs.ListTasksInput{StartedBy: aws.String("ctl-a"), Family: aws.String("zoom")})
	require.Equal(t, "InvalidParameterException", apiCode(err), "startedBy must be the only filter")
	_, err = e.ecs.ListTasks(e.ctx, &ecs.ListTasksInput{Cluster: aws.String("nope")})
	var notFound *types.ClusterNotFoundException
	require.ErrorAs(t, err, &notFound)
}

func TestConsistencyLag(t *testing.T) {
	t.Parallel()
	e := newSim(t, Config{ConsistencyLag: 2 * time.Second})
	arn := e.runOne(t)

	out, err := e.ecs.DescribeTasks(e.ctx, &ecs.DescribeTasksInput{Tasks: []string{arn}})
	require.NoError(t, err)
	require.Empty(t, out.Tasks)
	require.Equal(t, "MISSING", aws.ToString(out.Failures[0].Reason))
	listed, err := e.ecs.ListTasks(e.ctx, &ecs.ListTasksInput{})
	require.NoError(t, err)
	require.Empty(t, listed.TaskArns)
	_, err = e.ecs.StopTask(e.ctx, &ecs.StopTaskInput{Task: aws.String(arn)})
	require.Equal(t, "InvalidParameterException", apiCode(err))

	e.clock.Advance(2 * time.Second)
	require.Equal(t, "PENDING", aws.ToString(e.describe(t, arn).LastStatus))

	e.sim.SetConsistencyLag(0)
	e.describe(t, e.runOne(t))
}

func TestDescribeTasks(t *testing.T) {
	t.Parallel()
	e := newSim(t, Config{})
	arn := e.runOne(t, withEnv)
	snap, _ := e.sim.Task(arn)

	refs := []string{arn, snap.ID, "0123456789abcdef0123456789abcdef"}
	out, err := e.ecs.DescribeTasks(e.ctx, &ecs.DescribeTasksInput{Tasks: refs})
	require.NoError(t, err)
	require.Len(t, out.Tasks, 2, "the ARN and the short id both find it")
	require.Empty(t, out.Tasks[0].Tags, "tags only with include TAGS")
	require.Equal(t, []types.Failure{{
		Arn:    aws.String("arn:aws:ecs:us-east-1:123456789012:task/default/0123456789abcdef0123456789abcdef"),
		Reason: aws.String("MISSING"),
	}}, out.Failures)
	require.Equal(t, "m1", aws.ToString(e.describe(t, arn).Tags[0].Value))

	many := make([]string, 101)
	for i := range many {
		many[i] = fmt.Sprintf("%032x", i)
	}
	_, err = e.ecs.DescribeTasks(e.ctx, &ecs.DescribeTasksInput{Tasks: many})
	require.Equal(t, "InvalidParameterException", apiCode(err))
	out, err = e.ecs.DescribeTasks(e.ctx, &ecs.DescribeTasksInput{Tasks: many[:100]})
	require.NoError(t, err)
	require.Len(t, out.Failures, 100)
	_, err = e.ecs.DescribeTasks(e.ctx, &ecs.DescribeTasksInput{Tasks: []string{}})
	require.Equal(t, "InvalidParameterException", apiCode(err))
}

func TestClustersAndTaskDefinitions(t *testing.T) {
	t.Parallel()
	e := newSim(t, Config{Clusters: []string{"bots", "default"}})
	e.runOne(t)
	clusters, err := e.ecs.ListClusters(e.ctx, &ecs.ListClustersInput{})
	require.NoError(t, err)
	require.Equal(t, []string{"arn:aws:ecs:us-east-1:123456789012:cluster/bots",
		"arn:aws:ecs:us-east-1:123456789012:cluster/default"}, clusters.ClusterArns)
	desc, err := e.ecs.DescribeClusters(e.ctx, &ecs.DescribeClustersInput{Clusters: []string{"default", "gone"}})
	require.NoError(t, err)
	require.Len(t, desc.Clusters, 1)
	require.Equal(t, int32(1), desc.Clusters[0].PendingTasksCount)
	require.Equal(t, "ACTIVE", aws.ToString(desc.Clusters[0].Status))
	require.Equal(t, "MISSING", aws.ToString(desc.Failures[0].Reason))

	td, err := e.ecs.DescribeTaskDefinition(e.ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("bot")})
	require.NoError(t, err)
	require.Equal(t, "bot", aws.ToString(td.TaskDefinition.ContainerDefinitions[0].Name))
	require.Equal(t, int32(1), td.TaskDefinition.Revision)
	_, err = e.ecs.DescribeTaskDefinition(e.ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String("nope")})
	var client *types.ClientException
	require.ErrorAs(t, err, &client)
}
