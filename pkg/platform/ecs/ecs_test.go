package ecs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
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
	"golang.org/x/time/rate"

	"github.com/meeboter/meeboter/pkg/platform"
)

// wire is a scripted awsJson1_1 server: each operation has a handler that
// gets the decoded request body and returns a status and a response body.
type wire struct {
	mu    sync.Mutex
	calls map[string][]map[string]any
	ops   map[string]func(req map[string]any) (int, any)
}

func newWire(t *testing.T) (*wire, *ecs.Client) {
	t.Helper()
	w := &wire{calls: map[string][]map[string]any{}, ops: map[string]func(map[string]any) (int, any){}}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AmazonEC2ContainerServiceV20141113.")
		body, _ := io.ReadAll(r.Body)
		var req map[string]any
		if err := json.Unmarshal(body, &req); err != nil {
			t.Errorf("%s: body %q: %v", op, body, err)
		}
		if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKID/") {
			t.Errorf("%s: not signed: %q", op, r.Header.Get("Authorization"))
		}
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
	return w, testClient(srv.URL)
}

func testClient(url string) *ecs.Client {
	return ecs.New(ecs.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		Retryer: retry.NewStandard(func(o *retry.StandardOptions) {
			o.RateLimiter = ratelimit.None
			o.MaxBackoff = 20 * time.Millisecond
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

func newPlatform(t *testing.T, client *ecs.Client, cfg Config) *Platform {
	t.Helper()
	p, err := New(client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func workload(name string, env map[string]string) platform.Workload {
	return platform.Workload{Name: name, BotID: "b1", Attempt: 2, MeetingPlatform: "zoom", Env: env}
}

const arn1 = "arn:aws:ecs:us-east-1:123456789012:task/bots/0123456789abcdef0123456789abcdef"

func ranTask(req map[string]any) (int, any) {
	return http.StatusOK, map[string]any{"tasks": []any{map[string]any{"taskArn": arn1, "lastStatus": "PROVISIONING"}}, "failures": []any{}}
}

func TestCreateRequest(t *testing.T) {
	w, client := newWire(t)
	w.handle("RunTask", ranTask)
	p := newPlatform(t, client, testConfig())
	got, err := p.Create(context.Background(), workload("meeboter-b1-2", map[string]string{"Z": "last", "BOT_TOKEN": "t1", "A": "first"}))
	if err != nil || got != arn1 {
		t.Fatalf("Create = %q, %v", got, err)
	}
	reqs := w.requests("RunTask")
	if len(reqs) != 1 {
		t.Fatalf("%d RunTask calls", len(reqs))
	}
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
	if !reflect.DeepEqual(reqs[0], want) {
		a, _ := json.MarshalIndent(reqs[0], "", " ")
		b, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("RunTask body:\n%s\nwant:\n%s", a, b)
	}
}

func TestCreateCapacityProvidersAndNoNetwork(t *testing.T) {
	w, client := newWire(t)
	w.handle("RunTask", ranTask)
	cfg := testConfig()
	cfg.Subnets, cfg.SecurityGroups = nil, nil
	cfg.CapacityProviders = []types.CapacityProviderStrategyItem{{CapacityProvider: aws.String("FARGATE_SPOT"), Weight: 100}}
	cfg.StartedBy, cfg.ContainerName = "meeboter-staging", "zoom-bot"
	p := newPlatform(t, client, cfg)
	if _, err := p.Create(context.Background(), workload("meeboter-b1-2", nil)); err != nil {
		t.Fatal(err)
	}
	req := w.requests("RunTask")[0]
	if _, ok := req["launchType"]; ok {
		t.Errorf("launchType sent with a capacity-provider strategy: %v", req["launchType"])
	}
	if _, ok := req["networkConfiguration"]; ok {
		t.Errorf("networkConfiguration sent without subnets")
	}
	strategy, _ := req["capacityProviderStrategy"].([]any)
	if len(strategy) != 1 || strategy[0].(map[string]any)["capacityProvider"] != "FARGATE_SPOT" {
		t.Errorf("capacityProviderStrategy = %v", req["capacityProviderStrategy"])
	}
	if req["startedBy"] != "meeboter-staging" {
		t.Errorf("startedBy = %v", req["startedBy"])
	}
	if name := req["overrides"].(map[string]any)["containerOverrides"].([]any)[0].(map[string]any)["name"]; name != "zoom-bot" {
		t.Errorf("container override name = %v", name)
	}
}

func TestCreateUnknownMeetingPlatform(t *testing.T) {
	w, client := newWire(t)
	p := newPlatform(t, client, testConfig())
	w2 := workload("meeboter-b1-1", nil)
	w2.MeetingPlatform = "microsoft-teams"
	if _, err := p.Create(context.Background(), w2); err == nil || errors.Is(err, platform.ErrCapacity) {
		t.Fatalf("err = %v", err)
	}
	if n := len(w.requests("RunTask")); n != 0 {
		t.Errorf("%d RunTask calls", n)
	}
}

func TestCreateConflictAdopts(t *testing.T) {
	w, client := newWire(t)
	w.handle("RunTask", func(map[string]any) (int, any) {
		return apiError("ConflictException", "The clientToken is already in use with a different request.", map[string]any{"resourceIds": []any{arn1}})
	})
	p := newPlatform(t, client, testConfig())
	got, err := p.Create(context.Background(), workload("meeboter-b1-2", map[string]string{"BOT_TOKEN": "rotated"}))
	if err != nil || got != arn1 {
		t.Fatalf("Create = %q, %v; want the conflicting task adopted", got, err)
	}
	// A conflict that names no task is an error.
	w.handle("RunTask", func(map[string]any) (int, any) { return apiError("ConflictException", "conflict", nil) })
	if _, err := p.Create(context.Background(), workload("meeboter-b1-2", nil)); err == nil {
		t.Fatal("conflict without resourceIds: no error")
	}
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
			w, client := newWire(t)
			w.handle("RunTask", func(map[string]any) (int, any) { return tt.status, tt.body })
			p := newPlatform(t, client, testConfig())
			id, err := p.Create(context.Background(), workload("meeboter-b1-1", nil))
			if err == nil || id != "" {
				t.Fatalf("Create = %q, %v; want an error", id, err)
			}
			if errors.Is(err, platform.ErrCapacity) != tt.capacity {
				t.Errorf("capacity = %v, want %v: %v", !tt.capacity, tt.capacity, err)
			}
		})
	}
}

func TestCreateRetriesThrottling(t *testing.T) {
	w, client := newWire(t)
	var mu sync.Mutex
	n := 0
	w.handle("RunTask", func(req map[string]any) (int, any) {
		mu.Lock()
		defer mu.Unlock()
		n++
		if n <= 2 {
			return apiError("ThrottlingException", "Rate exceeded", nil)
		}
		return ranTask(req)
	})
	p := newPlatform(t, client, testConfig())
	if got, err := p.Create(context.Background(), workload("meeboter-b1-1", nil)); err != nil || got != arn1 {
		t.Fatalf("Create = %q, %v", got, err)
	}
	reqs := w.requests("RunTask")
	if len(reqs) != 3 {
		t.Fatalf("%d attempts", len(reqs))
	}
	for _, r := range reqs {
		if r["clientToken"] != "meeboter-b1-1" {
			t.Errorf("retry with token %v", r["clientToken"])
		}
	}
}

func TestRateLimitPerAttempt(t *testing.T) {
	w, client := newWire(t)
	w.handle("RunTask", ranTask)
	cfg := testConfig()
	cfg.LaunchRate, cfg.LaunchBurst = rate.Every(time.Hour), 1
	var ops []string
	cfg.OnRequest = func(op string, _ error, _ time.Duration) { ops = append(ops, op) }
	p := newPlatform(t, client, cfg)
	if _, err := p.Create(context.Background(), workload("meeboter-b1-1", nil)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := p.Create(ctx, workload("meeboter-b2-1", nil))
	if err == nil || !strings.Contains(err.Error(), "rate limit") {
		t.Fatalf("second Create past the launch bucket: %v", err)
	}
	if n := len(w.requests("RunTask")); n != 1 {
		t.Errorf("%d RunTask calls reached ECS, want 1", n)
	}
	if !reflect.DeepEqual(ops, []string{"RunTask", "RunTask"}) {
		t.Errorf("OnRequest ops = %v", ops)
	}
}

func TestClientToken(t *testing.T) {
	short := "meeboter-7f0c1c1e-8d7c-4a54-9a3e-1b2c3d4e5f60-12"
	if got := ClientToken(short); got != short {
		t.Errorf("ClientToken(%q) = %q", short, got)
	}
	long := "meeboter-" + strings.Repeat("x", 80) + "-1"
	long2 := "meeboter-" + strings.Repeat("x", 80) + "-2"
	a, b := ClientToken(long), ClientToken(long2)
	if len(a) > 64 || len(b) > 64 || a == b || a != ClientToken(long) || !strings.HasPrefix(a, "meeboter-xxx") {
		t.Errorf("long tokens %q %q", a, b)
	}
	if got := ClientToken("meeboter bot 1"); strings.Contains(got, " ") || len(got) > 64 {
		t.Errorf("token with spaces: %q", got)
	}
}

func TestNewValidates(t *testing.T) {
	client := testClient("http://127.0.0.1:1")
	for _, cfg := range []Config{
		{TaskDefinitions: map[string]string{"zoom": "z"}},
		{Cluster: "c"},
		{Cluster: "c", TaskDefinitions: map[string]string{"zoom": "z"}, StartedBy: "has space"},
	} {
		if _, err := New(client, cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	if _, err := New(nil, testConfig()); err == nil {
		t.Error("nil client accepted")
	}
}

func TestStop(t *testing.T) {
	w, client := newWire(t)
	w.handle("StopTask", func(req map[string]any) (int, any) {
		switch req["task"] {
		case arn1:
			return http.StatusOK, map[string]any{"task": map[string]any{"taskArn": arn1, "lastStatus": "RUNNING", "desiredStatus": "STOPPED"}}
		case "gone":
			return apiError("InvalidParameterException", "The referenced task was not found.", nil)
		}
		return apiError("ClusterNotFoundException", "Cluster not found.", nil)
	})
	p := newPlatform(t, client, testConfig())
	ctx := context.Background()
	if gone, err := p.Stop(ctx, "meeboter-b1-1", arn1); err != nil || gone {
		t.Fatalf("stop of a running task: gone %v, %v; want it still stopping", gone, err)
	}
	req := w.requests("StopTask")[0]
	if req["cluster"] != "bots" || req["reason"] != StopReason {
		t.Errorf("StopTask body %v", req)
	}
	if gone, err := p.Stop(ctx, "meeboter-b1-1", "gone"); err != nil || !gone {
		t.Errorf("stop of an unknown task: gone %v, %v", gone, err)
	}
	if _, err := p.Stop(ctx, "meeboter-b1-1", "other"); err == nil {
		t.Error("ClusterNotFound swallowed")
	}
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
	w, client := newWire(t)
	f := newFakeTasks(150, 60)
	f.missing[taskARN(3)] = true
	f.install(w)
	p := newPlatform(t, client, testConfig())
	listed, err := p.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(listed) != 209 {
		t.Fatalf("%d listed, want 209 (210 less one MISSING)", len(listed))
	}
	if n := len(w.requests("ListTasks")); n != 3 {
		t.Errorf("%d ListTasks calls, want 2 pages RUNNING + 1 STOPPED", n)
	}
	for _, r := range w.requests("ListTasks") {
		if r["startedBy"] != "meeboter" || r["maxResults"] != float64(100) || r["cluster"] != "bots" {
			t.Errorf("ListTasks %v", r)
		}
	}
	describes := w.requests("DescribeTasks")
	if len(describes) != 3 {
		t.Errorf("%d DescribeTasks calls, want 3", len(describes))
	}
	for _, d := range describes {
		if inc := d["include"].([]any); len(inc) != 1 || inc[0] != "TAGS" {
			t.Errorf("include = %v", inc)
		}
	}
	byID := map[string]platform.Listed{}
	for _, l := range listed {
		byID[l.ExternalID] = l
	}
	if _, ok := byID[taskARN(3)]; ok {
		t.Error("MISSING task listed")
	}
	r := byID[taskARN(0)]
	if r.Name != "meeboter-b0-1" || r.Phase != platform.PhaseRunning || r.CreatedAt.Unix() != 1.7e9 {
		t.Errorf("running: %+v", r)
	}
	s := byID[taskARN(200)]
	if s.Name != "meeboter-b200-1" || s.Phase != platform.PhaseExited || s.ExitCode == nil || *s.ExitCode != 7 ||
		s.Reason != "EssentialContainerExited: Essential container in task exited" {
		t.Errorf("stopped: %+v", s)
	}

	f.describeFail = true
	if got, err := p.List(context.Background()); err == nil || got != nil {
		t.Errorf("List with a failing DescribeTasks = %d, %v; want no list and an error", len(got), err)
	}
}

func TestListRejectsOtherFailures(t *testing.T) {
	w, client := newWire(t)
	w.handle("ListTasks", func(map[string]any) (int, any) {
		return http.StatusOK, map[string]any{"taskArns": []any{arn1}}
	})
	w.handle("DescribeTasks", func(map[string]any) (int, any) {
		return http.StatusOK, map[string]any{"failures": []any{map[string]any{"arn": arn1, "reason": "ACCESS DENIED"}}}
	})
	p := newPlatform(t, client, testConfig())
	if _, err := p.List(context.Background()); err == nil {
		t.Fatal("a non-MISSING failure gave a list")
	}
}

func TestLookupAndStopByName(t *testing.T) {
	w, client := newWire(t)
	f := newFakeTasks(250, 5)
	f.install(w)
	w.handle("StopTask", func(req map[string]any) (int, any) {
		return http.StatusOK, map[string]any{"task": map[string]any{"taskArn": req["task"]}}
	})
	p := newPlatform(t, client, testConfig())
	ctx := context.Background()
	l, found, err := p.Lookup(ctx, "meeboter-b120-1")
	if err != nil || !found || l.ExternalID != taskARN(120) || l.Phase != platform.PhaseRunning {
		t.Fatalf("Lookup = %+v, %v, %v", l, found, err)
	}
	if n := len(w.requests("ListTasks")); n != 2 {
		t.Errorf("Lookup read %d pages, want to stop at the second", n)
	}
	if _, found, err := p.Lookup(ctx, "meeboter-b252-1"); err != nil || found {
		t.Errorf("Lookup of a stopped task: found %v, %v", found, err)
	}
	if _, err := p.Stop(ctx, "meeboter-b7-1", ""); err != nil {
		t.Fatal(err)
	}
	if reqs := w.requests("StopTask"); len(reqs) != 1 || reqs[0]["task"] != taskARN(7) {
		t.Errorf("StopTask by name: %v", reqs)
	}
	if _, err := p.Stop(ctx, "meeboter-nobody-1", ""); err != nil {
		t.Errorf("Stop of an unknown name: %v", err)
	}
	if n := len(w.requests("StopTask")); n != 1 {
		t.Errorf("%d StopTask calls", n)
	}
}

func TestNewClient(t *testing.T) {
	client, err := NewClient(context.Background(), "eu-west-1", "http://127.0.0.1:9")
	if err != nil {
		t.Fatal(err)
	}
	if o := client.Options(); o.Region != "eu-west-1" || aws.ToString(o.BaseEndpoint) != "http://127.0.0.1:9" {
		t.Errorf("region %q, endpoint %q", o.Region, aws.ToString(o.BaseEndpoint))
	}
}

func TestStopWithoutNameOrID(t *testing.T) {
	w, client := newWire(t)
	newFakeTasks(0, 0).install(w)
	p := newPlatform(t, client, testConfig())
	if _, err := p.Stop(context.Background(), "", ""); err != nil {
		t.Fatal(err)
	}
	if n := len(w.requests("ListTasks")) + len(w.requests("StopTask")); n != 0 {
		t.Errorf("%d calls for nothing to stop", n)
	}
}
