package ecs

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/time/rate"

	"github.com/meeboter/meeboter/pkg/platform"
	"github.com/meeboter/meeboter/pkg/platform/ecs/ecssim"
)

// testBundle is one test's Platform and the ECS it calls: the scripted wire
// (setup) or the simulator (setupSim); the other is nil.
// No t.Parallel in ecs_test.go, sim_test.go or observe_test.go: they time real token buckets and lags, which failed CI in parallel.
type testBundle struct {
	*Platform
	wire *wire
	sim  *ecssim.Sim
}

// opts adjust a setup; the zero value takes the defaults.
type opts struct {
	config func(*Config)                // adjusts testConfig()
	retry  func(*retry.StandardOptions) // adjusts the SDK's retryer
	sim    func(*ecssim.Config)         // adjusts the simulator's config (setupSim)
}

// setup is a Platform on testConfig() whose ECS is a scripted wire with no
// operation answered yet.
func setup(t *testing.T, o opts) *testBundle {
	t.Helper()
	w, url := newWire(t)
	return &testBundle{Platform: o.platform(t, testClient(url, 20*time.Millisecond, o.retry)), wire: w}
}

// platform is New on testConfig() as o.config adjusts it.
func (o opts) platform(t *testing.T, client *ecs.Client) *Platform {
	t.Helper()
	cfg := testConfig()
	if o.config != nil {
		o.config(&cfg)
	}
	p, err := New(client, cfg)
	require.NoError(t, err)
	return p
}

// wire is a scripted awsJson1_1 server: each operation has a handler that
// gets the decoded request body and returns a status and a response body.
type wire struct {
	mu    sync.Mutex
	calls map[string][]map[string]any
	ops   map[string]func(req map[string]any) (int, any)
}

// newWire starts a wire and returns it and its URL.
func newWire(t *testing.T) (*wire, string) {
	t.Helper()
	w := &wire{calls: map[string][]map[string]any{}, ops: map[string]func(map[string]any) (int, any){}}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AmazonEC2ContainerServiceV20141113.")
		body, _ := io.ReadAll(r.Body)
		// The handler runs off the test goroutine: assert, never require.
		var req map[string]any
		assert.NoError(t, json.Unmarshal(body, &req), "%s: body %q", op, body)
		assert.True(t, strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKID/"),
			"%s: not signed: %q", op, r.Header.Get("Authorization"))
		w.mu.Lock()
		w.calls[op] = append(w.calls[op], req)
		h := w.ops[op]
		w.mu.Unlock()
		status, resp := http.StatusBadRequest, any(map[string]any{"__type": "UnknownOperationException", "message": op})
		if h != nil {
			status, resp = h(req)
		}
		rw.Header().Set("Content-Type", "application/x-amz-json-1.1")
		rw.WriteHeader(status)
		_ = json.NewEncoder(rw).Encode(resp)
	}))
	t.Cleanup(srv.Close)
	return w, srv.URL
}

// testClient is the real SDK's client for a test server at url: signed as
// AKID, retrying after at most maxBackoff, without the SDK's client-side
// retry quota; adjust, if not nil, tunes the retryer further.
func testClient(url string, maxBackoff time.Duration, adjust func(*retry.StandardOptions)) *ecs.Client {
	return ecs.New(ecs.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.RateLimiter = ratelimit.None
			o.MaxBackoff = maxBackoff
			if adjust != nil {
				adjust(o)
			}
		}),
	})
}

func (w *wire) handle(op string, h func(req map[string]any) (int, any)) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ops[op] = h
}

func (w *wire) requests(op string) []map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]map[string]any(nil), w.calls[op]...)
}

func apiError(code, msg string, extra map[string]any) (int, any) {
	body := map[string]any{"__type": code, "message": msg}
	for k, v := range extra {
		body[k] = v
	}
	return http.StatusBadRequest, body
}

func testConfig() Config {
	return Config{
		Cluster:         "bots",
		TaskDefinitions: map[string]string{"zoom": "meeboter-zoom:3", "google-meet": "meeboter-meet"},
		Subnets:         []string{"subnet-a", "subnet-b"},
		SecurityGroups:  []string{"sg-1"},
		AssignPublicIP:  true,
	}
}

func workload(name string, env map[string]string) platform.Workload {
	return platform.Workload{Name: name, BotID: "b1", Attempt: 2, MeetingPlatform: "zoom", Env: env}
}

const arn1 = "arn:aws:ecs:us-east-1:123456789012:task/bots/0123456789abcdef0123456789abcdef"

func ranTask(req map[string]any) (int, any) {
	return http.StatusOK, map[string]any{"tasks": []any{map[string]any{"taskArn": arn1, "lastStatus": "PROVISIONING"}}, "failures": []any{}}
}

func TestCreateRequest(t *testing.T) {
	b := setup(t, opts{})
	b.wire.handle("RunTask", ranTask)
	got, err := b.Create(context.Background(), workload("meeboter-b1-2", map[string]string{"Z": "last", "BOT_TOKEN": "t1", "A": "first"}))
	require.NoError(t, err)
	require.Equal(t, arn1, got)
	reqs := b.wire.requests("RunTask")
	require.Len(t, reqs, 1, "RunTask calls")
	want := map[string]any{
		"cluster":        "bots",
		"taskDefinition": "meeboter-zoom:3",
		"count":          float64(1),
		"clientToken":    "meeboter-b1-2",
		"startedBy":      "meeboter",
		"launchType":     "FARGATE",
		"networkConfiguration": map[string]any{"awsvpcConfiguration": map[string]any{
			"subnets": []any{"subnet-a", "subnet-b"}, "securityGroups": []any{"sg-1"}, "assignPublicIp": "ENABLED",
		}},
		"overrides": map[string]any{"containerOverrides": []any{map[string]any{
			"name": "bot",
			"environment": []any{
				map[string]any{"name": "A", "value": "first"},
				map[string]any{"name": "BOT_TOKEN", "value": "t1"},
				map[string]any{"name": EnvWorkload, "value": "meeboter-b1-2"},
				map[string]any{"name": "Z", "value": "last"},
			},
		}}},
		"tags": []any{
			map[string]any{"key": TagBot, "value": "b1"},
			map[string]any{"key": TagAttempt, "value": "2"},
			map[string]any{"key": TagDeployment, "value": "meeboter-b1-2"},
		},
	}
	require.Equal(t, want, reqs[0], "RunTask body")
}

func TestCreateCapacityProvidersAndNoNetwork(t *testing.T) {
	b := setup(t, opts{config: func(cfg *Config) {
		cfg.Subnets, cfg.SecurityGroups = nil, nil
		cfg.CapacityProviders = []types.CapacityProviderStrategyItem{{CapacityProvider: aws.String("FARGATE_SPOT"), Weight: 100}}
		cfg.StartedBy, cfg.ContainerName = "meeboter-staging", "zoom-bot"
	}})
	b.wire.handle("RunTask", ranTask)
	_, err := b.Create(context.Background(), workload("meeboter-b1-2", nil))
	require.NoError(t, err)
	req := b.wire.requests("RunTask")[0]
	require.NotContains(t, req, "launchType", "launchType sent with a capacity-provider strategy")
	require.NotContains(t, req, "networkConfiguration", "networkConfiguration sent without subnets")
	strategy, _ := req["capacityProviderStrategy"].([]any)
	require.Len(t, strategy, 1, "capacityProviderStrategy = %v", req["capacityProviderStrategy"])
	require.Equal(t, "FARGATE_SPOT", strategy[0].(map[string]any)["capacityProvider"],
		"capacityProviderStrategy = %v", req["capacityProviderStrategy"])
	require.Equal(t, "meeboter-staging", req["startedBy"], "startedBy")
	require.Equal(t, "zoom-bot", req["overrides"].(map[string]any)["containerOverrides"].([]any)[0].(map[string]any)["name"],
		"container override name")
}

func TestCreateUnknownMeetingPlatform(t *testing.T) {
	b := setup(t, opts{})
	w := workload("meeboter-b1-1", nil)
	w.MeetingPlatform = "microsoft-teams"
	_, err := b.Create(context.Background(), w)
	require.Error(t, err)
	require.NotErrorIs(t, err, platform.ErrCapacity)
	require.Empty(t, b.wire.requests("RunTask"), "RunTask calls")
}

func TestCreateConflictAdopts(t *testing.T) {
	b := setup(t, opts{})
	b.wire.handle("RunTask", func(map[string]any) (int, any) {
		return apiError("ConflictException", "The clientToken is already in use with a different request.", map[string]any{"resourceIds": []any{arn1}})
	})
	got, err := b.Create(context.Background(), workload("meeboter-b1-2", map[string]string{"BOT_TOKEN": "rotated"}))
	require.NoError(t, err, "want the conflicting task adopted")
	require.Equal(t, arn1, got, "want the conflicting task adopted")
	// A conflict that names no task is an error.
	b.wire.handle("RunTask", func(map[string]any) (int, any) { return apiError("ConflictException", "conflict", nil) })
	_, err = b.Create(context.Background(), workload("meeboter-b1-2", nil))
	require.Error(t, err, "conflict without resourceIds: no error")
}

func TestCreateFailures(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		body     any
		capacity bool
	}{
		{"RESOURCE:MEMORY", 200, map[string]any{"tasks": []any{}, "failures": []any{map[string]any{"reason": "RESOURCE:MEMORY"}}}, true},
		{"RESOURCE:ENI", 200, map[string]any{"failures": []any{map[string]any{"arn": "x", "reason": "RESOURCE:ENI", "detail": "no ENI"}}}, true},
		{"Fargate capacity failure", 200, map[string]any{"failures": []any{map[string]any{"reason": "Capacity is unavailable at this time. Please try again later or in a different availability zone"}}}, true},
		{"AGENT", 200, map[string]any{"failures": []any{map[string]any{"reason": "AGENT"}}}, false},
		{"empty", 200, map[string]any{}, false},
		{"Fargate capacity exception", 400, map[string]any{"__type": "ServerException", "message": "Capacity is unavailable at this time. Please try again later or in a different availability zone"}, true},
		{"vCPU limit", 400, map[string]any{"__type": "ClientException", "message": "You've reached the limit on the number of vCPUs you can run concurrently"}, true},
		{"invalid parameter", 400, map[string]any{"__type": "InvalidParameterException", "message": "Task definition does not exist."}, false},
		{"access denied", 400, map[string]any{"__type": "AccessDeniedException", "message": "nope"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := setup(t, opts{})
			b.wire.handle("RunTask", func(map[string]any) (int, any) { return tt.status, tt.body })
			id, err := b.Create(context.Background(), workload("meeboter-b1-1", nil))
			require.Error(t, err, "Create = %q; want an error", id)
			require.Empty(t, id, "Create = %q, %v; want an error", id, err)
			if tt.capacity {
				require.ErrorIs(t, err, platform.ErrCapacity)
			} else {
				require.NotErrorIs(t, err, platform.ErrCapacity)
			}
		})
	}
}

func TestCreateRetriesThrottling(t *testing.T) {
	b := setup(t, opts{})
	var mu sync.Mutex
	n := 0
	b.wire.handle("RunTask", func(req map[string]any) (int, any) {
		mu.Lock()
		defer mu.Unlock()
		n++
		if n <= 2 {
			return apiError("ThrottlingException", "Rate exceeded", nil)
		}
		return ranTask(req)
	})
	got, err := b.Create(context.Background(), workload("meeboter-b1-1", nil))
	require.NoError(t, err)
	require.Equal(t, arn1, got)
	reqs := b.wire.requests("RunTask")
	require.Len(t, reqs, 3, "attempts")
	for _, r := range reqs {
		require.Equal(t, "meeboter-b1-1", r["clientToken"], "retry with token")
	}
}

func TestRateLimitPerAttempt(t *testing.T) {
	var ops []string
	b := setup(t, opts{config: func(cfg *Config) {
		cfg.LaunchRate, cfg.LaunchBurst = rate.Every(time.Hour), 1
		cfg.OnRequest = func(op string, _ error, _ time.Duration) { ops = append(ops, op) }
	}})
	b.wire.handle("RunTask", ranTask)
	_, err := b.Create(context.Background(), workload("meeboter-b1-1", nil))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = b.Create(ctx, workload("meeboter-b2-1", nil))
	require.ErrorContains(t, err, "rate limit", "second Create past the launch bucket")
	require.Len(t, b.wire.requests("RunTask"), 1, "RunTask calls reached ECS")
	require.Equal(t, []string{"RunTask", "RunTask"}, ops, "OnRequest ops")
}

func TestClientToken(t *testing.T) {
	short := "meeboter-7f0c1c1e-8d7c-4a54-9a3e-1b2c3d4e5f60-12"
	require.Equal(t, short, ClientToken(short), "ClientToken(%q)", short)
	long := "meeboter-" + strings.Repeat("x", 80) + "-1"
	long2 := "meeboter-" + strings.Repeat("x", 80) + "-2"
	a, b := ClientToken(long), ClientToken(long2)
	require.LessOrEqual(t, len(a), 64, "long token %q", a)
	require.LessOrEqual(t, len(b), 64, "long token %q", b)
	require.NotEqual(t, a, b, "long tokens of two workloads")
	require.Equal(t, a, ClientToken(long), "long token is not stable")
	require.True(t, strings.HasPrefix(a, "meeboter-xxx"), "long token %q", a)
	got := ClientToken("meeboter bot 1")
	require.NotContains(t, got, " ", "token with spaces")
	require.LessOrEqual(t, len(got), 64, "token with spaces: %q", got)
}

func TestNewValidates(t *testing.T) {
	client := testClient("http://127.0.0.1:1", 20*time.Millisecond, nil)
	for _, cfg := range []Config{
		{TaskDefinitions: map[string]string{"zoom": "z"}},
		{Cluster: "c"},
		{Cluster: "c", TaskDefinitions: map[string]string{"zoom": "z"}, StartedBy: "has space"},
	} {
		_, err := New(client, cfg)
		require.Error(t, err, "New(%+v) accepted", cfg)
	}
	_, err := New(nil, testConfig())
	require.Error(t, err, "nil client accepted")
}

func TestStop(t *testing.T) {
	b := setup(t, opts{})
	b.wire.handle("StopTask", func(req map[string]any) (int, any) {
		switch req["task"] {
		case arn1:
			return http.StatusOK, map[string]any{"task": map[string]any{"taskArn": arn1, "lastStatus": "RUNNING", "desiredStatus": "STOPPED"}}
		case "gone":
			return apiError("InvalidParameterException", "The referenced task was not found.", nil)
		}
		return apiError("ClusterNotFoundException", "Cluster not found.", nil)
	})
	ctx := context.Background()
	gone, err := b.Stop(ctx, "meeboter-b1-1", arn1)
	require.NoError(t, err, "stop of a running task")
	require.False(t, gone, "stop of a running task: gone; want it still stopping")
	req := b.wire.requests("StopTask")[0]
	require.Equal(t, "bots", req["cluster"], "StopTask body %v", req)
	require.Equal(t, StopReason, req["reason"], "StopTask body %v", req)
	gone, err = b.Stop(ctx, "meeboter-b1-1", "gone")
	require.NoError(t, err, "stop of an unknown task")
	require.True(t, gone, "stop of an unknown task: not gone")
	_, err = b.Stop(ctx, "meeboter-b1-1", "other")
	require.Error(t, err, "ClusterNotFound swallowed")
}

// fakeTasks serves ListTasks and DescribeTasks over n tasks: the first
// running, tagged; the rest stopped, their tags gone.
type fakeTasks struct {
	running, stopped []string
	missing          map[string]bool
	describeFail     bool
}

func taskARN(i int) string {
	return fmt.Sprintf("arn:aws:ecs:us-east-1:123456789012:task/bots/%032x", i)
}

func (f *fakeTasks) install(w *wire) {
	w.handle("ListTasks", func(req map[string]any) (int, any) {
		all := f.running
		if req["desiredStatus"] == "STOPPED" {
			all = f.stopped
		}
		start := 0
		if tok, ok := req["nextToken"].(string); ok {
			_, _ = fmt.Sscanf(tok, "page-%d", &start)
		}
		size := int(req["maxResults"].(float64))
		end := min(start+size, len(all))
		resp := map[string]any{"taskArns": all[start:end]}
		if end < len(all) {
			resp["nextToken"] = fmt.Sprintf("page-%d", end)
		}
		return http.StatusOK, resp
	})
	w.handle("DescribeTasks", func(req map[string]any) (int, any) {
		if f.describeFail {
			return http.StatusInternalServerError, map[string]any{"__type": "ServerException", "message": "boom"}
		}
		ids := req["tasks"].([]any)
		if len(ids) > 100 {
			return apiError("InvalidParameterException", "too many tasks", nil)
		}
		var tasks, failures []any
		for _, id := range ids {
			arn := id.(string)
			if f.missing[arn] {
				failures = append(failures, map[string]any{"arn": arn, "reason": "MISSING"})
				continue
			}
			var i int
			_, _ = fmt.Sscanf(arn[strings.LastIndex(arn, "/")+1:], "%x", &i)
			name := fmt.Sprintf("meeboter-b%d-1", i)
			task := map[string]any{"taskArn": arn, "createdAt": 1.7e9, "startedBy": "meeboter",
				"overrides": map[string]any{"containerOverrides": []any{map[string]any{"name": "bot",
					"environment": []any{map[string]any{"name": EnvWorkload, "value": name}}}}}}
			if i < len(f.running) {
				task["lastStatus"], task["desiredStatus"] = "RUNNING", "RUNNING"
				task["tags"] = []any{map[string]any{"key": TagDeployment, "value": name}}
			} else {
				task["lastStatus"], task["desiredStatus"] = "STOPPED", "STOPPED"
				task["stopCode"], task["stoppedReason"] = "EssentialContainerExited", "Essential container in task exited"
				task["containers"] = []any{map[string]any{"name": "bot", "exitCode": 7}}
			}
			tasks = append(tasks, task)
		}
		return http.StatusOK, map[string]any{"tasks": tasks, "failures": failures}
	})
}

func newFakeTasks(running, stopped int) *fakeTasks {
	f := &fakeTasks{missing: map[string]bool{}}
	for i := 0; i < running+stopped; i++ {
		if i < running {
			f.running = append(f.running, taskARN(i))
		} else {
			f.stopped = append(f.stopped, taskARN(i))
		}
	}
	return f
}

func TestList(t *testing.T) {
	b := setup(t, opts{})
	f := newFakeTasks(150, 60)
	f.missing[taskARN(3)] = true
	f.install(b.wire)
	listed, err := b.List(context.Background())
	require.NoError(t, err)
	require.Len(t, listed, 209, "want 210 less one MISSING")
	require.Len(t, b.wire.requests("ListTasks"), 3, "ListTasks calls: want 2 pages RUNNING + 1 STOPPED")
	for _, r := range b.wire.requests("ListTasks") {
		require.Equal(t, "meeboter", r["startedBy"], "ListTasks %v", r)
		require.Equal(t, float64(100), r["maxResults"], "ListTasks %v", r)
		require.Equal(t, "bots", r["cluster"], "ListTasks %v", r)
	}
	describes := b.wire.requests("DescribeTasks")
	require.Len(t, describes, 3, "DescribeTasks calls")
	for _, d := range describes {
		require.Equal(t, []any{"TAGS"}, d["include"], "include")
	}
	byID := map[string]platform.Listed{}
	for _, l := range listed {
		byID[l.ExternalID] = l
	}
	require.NotContains(t, byID, taskARN(3), "MISSING task listed")
	r := byID[taskARN(0)]
	require.Equal(t, "meeboter-b0-1", r.Name, "running: %+v", r)
	require.Equal(t, platform.PhaseRunning, r.Phase, "running: %+v", r)
	require.Equal(t, int64(1.7e9), r.CreatedAt.Unix(), "running: %+v", r)
	s := byID[taskARN(200)]
	require.Equal(t, "meeboter-b200-1", s.Name, "stopped: %+v", s)
	require.Equal(t, platform.PhaseExited, s.Phase, "stopped: %+v", s)
	require.NotNil(t, s.ExitCode, "stopped: %+v", s)
	require.Equal(t, 7, *s.ExitCode, "stopped: %+v", s)
	require.Equal(t, "EssentialContainerExited: Essential container in task exited", s.Reason, "stopped: %+v", s)

	f.describeFail = true
	got, err := b.List(context.Background())
	require.Error(t, err, "List with a failing DescribeTasks: want an error")
	require.Nil(t, got, "List with a failing DescribeTasks: want no list")
}

func TestListRejectsOtherFailures(t *testing.T) {
	b := setup(t, opts{})
	b.wire.handle("ListTasks", func(map[string]any) (int, any) {
		return http.StatusOK, map[string]any{"taskArns": []any{arn1}}
	})
	b.wire.handle("DescribeTasks", func(map[string]any) (int, any) {
		return http.StatusOK, map[string]any{"failures": []any{map[string]any{"arn": arn1, "reason": "ACCESS DENIED"}}}
	})
	_, err := b.List(context.Background())
	require.Error(t, err, "a non-MISSING failure gave a list")
}

func TestLookupAndStopByName(t *testing.T) {
	b := setup(t, opts{})
	newFakeTasks(250, 5).install(b.wire)
	b.wire.handle("StopTask", func(req map[string]any) (int, any) {
		return http.StatusOK, map[string]any{"task": map[string]any{"taskArn": req["task"]}}
	})
	ctx := context.Background()
	l, found, err := b.Lookup(ctx, "meeboter-b120-1")
	require.NoError(t, err)
	require.True(t, found, "Lookup = %+v", l)
	require.Equal(t, taskARN(120), l.ExternalID, "Lookup = %+v", l)
	require.Equal(t, platform.PhaseRunning, l.Phase, "Lookup = %+v", l)
	require.Len(t, b.wire.requests("ListTasks"), 2, "Lookup read pages, want to stop at the second")
	_, found, err = b.Lookup(ctx, "meeboter-b252-1")
	require.NoError(t, err, "Lookup of a stopped task")
	require.False(t, found, "Lookup of a stopped task: found")
	_, err = b.Stop(ctx, "meeboter-b7-1", "")
	require.NoError(t, err)
	reqs := b.wire.requests("StopTask")
	require.Len(t, reqs, 1, "StopTask by name: %v", reqs)
	require.Equal(t, taskARN(7), reqs[0]["task"], "StopTask by name: %v", reqs)
	_, err = b.Stop(ctx, "meeboter-nobody-1", "")
	require.NoError(t, err, "Stop of an unknown name")
	require.Len(t, b.wire.requests("StopTask"), 1, "StopTask calls")
}

func TestNewClient(t *testing.T) {
	client, err := NewClient(context.Background(), "eu-west-1", "http://127.0.0.1:9")
	require.NoError(t, err)
	o := client.Options()
	require.Equal(t, "eu-west-1", o.Region, "region")
	require.Equal(t, "http://127.0.0.1:9", aws.ToString(o.BaseEndpoint), "endpoint")
}

func TestStopWithoutNameOrID(t *testing.T) {
	b := setup(t, opts{})
	newFakeTasks(0, 0).install(b.wire)
	_, err := b.Stop(context.Background(), "", "")
	require.NoError(t, err)
	require.Empty(t, b.wire.requests("ListTasks"), "ListTasks calls for nothing to stop")
	require.Empty(t, b.wire.requests("StopTask"), "StopTask calls for nothing to stop")
}
