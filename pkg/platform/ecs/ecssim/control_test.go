package ecssim

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/require"
)

// control calls a /_sim/ endpoint and decodes its JSON into out.
func control(t *testing.T, e *env, method, path, token string, body, out any) int {
	t.Helper()
	var buf bytes.Buffer
	if body != nil {
		require.NoError(t, json.NewEncoder(&buf).Encode(body))
	}
	req, err := http.NewRequestWithContext(t.Context(), method, e.url+"/_sim/"+path, &buf)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = res.Body.Close() }()
	if out != nil {
		require.NoError(t, json.NewDecoder(res.Body).Decode(out))
	}
	return res.StatusCode
}

func TestControlEndpoints(t *testing.T) {
	t.Parallel()
	wl := newScripted()
	e := newSim(t, Config{Workload: wl.workload})
	require.Equal(t, http.StatusUnauthorized, control(t, e, http.MethodGet, "stats", "nope", nil, nil))

	var k knobsView
	require.Equal(t, http.StatusOK, control(t, e, http.MethodPost, "knobs", testSecret,
		map[string]any{"capacity_failures": 1, "capacity_failure_reason": "RESOURCE:ENI", "stop_delay_ms": 0}, &k))
	require.Equal(t, 1, *k.CapacityFailures)
	require.Equal(t, int64(0), *k.StopDelayMS)
	require.False(t, *k.Throttle)
	out := e.run(t, func(in *ecs.RunTaskInput) { in.Count = aws.Int32(3) })
	require.Len(t, out.Tasks, 2)
	require.Equal(t, "RESOURCE:ENI", aws.ToString(out.Failures[0].Reason))

	crash, stop := aws.ToString(out.Tasks[0].TaskArn), aws.ToString(out.Tasks[1].TaskArn)
	e.advanceTo(t, crash, "RUNNING")
	e.advanceTo(t, stop, "RUNNING")
	require.Equal(t, http.StatusOK, control(t, e, http.MethodPost, "tasks/"+crash+"/crash", testSecret,
		map[string]int{"exit_code": 139}, nil))
	snap, _ := e.sim.Task(crash)
	require.Equal(t, http.StatusOK, control(t, e, http.MethodPost, "tasks/"+url.PathEscape(snap.ID)+"/stop", testSecret, nil, nil))
	require.Equal(t, http.StatusNotFound, control(t, e, http.MethodPost, "tasks/nope/vanish", testSecret, nil, nil))
	require.Equal(t, http.StatusOK, control(t, e, http.MethodPost, "tasks/"+stop+"/stop", testSecret, nil, nil))

	require.Equal(t, types.TaskStopCodeEssentialContainerExited, e.describe(t, crash).StopCode)
	require.Equal(t, int32(139), aws.ToInt32(e.describe(t, crash).Containers[0].ExitCode))
	require.Equal(t, types.TaskStopCodeSpotInterruption, e.describe(t, stop).StopCode)

	var tasks []TaskSnapshot
	require.Equal(t, http.StatusOK, control(t, e, http.MethodGet, "tasks", testSecret, nil, &tasks))
	require.Len(t, tasks, 2)
	require.Equal(t, "STOPPED", tasks[0].DesiredStatus)
	var stats Stats
	require.Equal(t, http.StatusOK, control(t, e, http.MethodGet, "stats", testSecret, nil, &stats))
	require.Equal(t, 2, stats.Launched)
	require.Equal(t, 1, stats.Calls["RunTask"])
}
