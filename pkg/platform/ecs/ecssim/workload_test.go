package ecssim

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe for a process's output and a test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestProcessWorkloadGetsTheTaskEnv runs a task whose container is a shell:
// it sees the task definition's and the overrides' variables, what Fargate
// sets, PATH and HOME, and nothing of the simulator's own environment; its
// exit code becomes the container's.
func TestProcessWorkloadGetsTheTaskEnv(t *testing.T) {
	t.Parallel()
	out := &syncBuffer{}
	// It stays up a moment: a shell that exits at once may be STOPPED
	// before the test has seen it RUNNING (flaked on CI).
	script := `tr '\0' '\n' < /proc/$$/environ; echo END; sleep 2; exit 7`
	wl := ProcessWorkload([]string{"/bin/sh", "-c", script}, WithOutput(out), WithKillGrace(time.Second))
	e := newSim(t, Config{Workload: wl, TaskDefinitions: map[string]TaskDef{
		"bot:1": {Environment: map[string]string{"FROM_DEF": "1", "MODE": "def"}},
	}})
	arn := e.runOne(t, withEnv)
	e.advanceTo(t, arn, "RUNNING")
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "END") }, waitFor, tick)

	var keys []string
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	for _, kv := range lines[:len(lines)-1] {
		k, _, _ := strings.Cut(kv, "=")
		keys = append(keys, k)
	}
	require.Contains(t, lines, "MODE=override")
	require.Contains(t, lines, "BOT_ID=b-1")
	want := []string{"AWS_DEFAULT_REGION", "AWS_EXECUTION_ENV", "AWS_REGION", "BOT_ID", "FROM_DEF", "MODE"}
	for _, k := range []string{"HOME", "PATH"} {
		if _, ok := os.LookupEnv(k); ok {
			want = append(want, k)
		}
	}
	slices.Sort(keys)
	slices.Sort(want)
	require.Equal(t, want, keys)

	require.Eventually(t, func() bool {
		return aws.ToString(e.describe(t, arn).DesiredStatus) == "STOPPED"
	}, waitFor, tick)
	stopped := e.advanceTo(t, arn, "STOPPED")
	require.Equal(t, int32(7), aws.ToInt32(stopped.Containers[0].ExitCode))
	require.Equal(t, types.TaskStopCodeEssentialContainerExited, stopped.StopCode)
}

func TestProcessWorkloadIsStoppedWithSIGTERM(t *testing.T) {
	t.Parallel()
	wl := ProcessWorkload([]string{"sleep", "60"})
	e := newSim(t, Config{Workload: wl})
	arn := e.runOne(t)
	e.advanceTo(t, arn, "RUNNING")
	_, err := e.ecs.StopTask(e.ctx, &ecs.StopTaskInput{Task: aws.String(arn)})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		snap, _ := e.sim.Task(arn)
		return !snap.Running
	}, waitFor, tick)
	stopped := e.advanceTo(t, arn, "STOPPED")
	require.Equal(t, int32(128+15), aws.ToInt32(stopped.Containers[0].ExitCode))
}
