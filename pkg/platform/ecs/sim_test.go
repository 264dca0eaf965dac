package ecs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"golang.org/x/time/rate"

	"github.com/meeboter/meeboter/pkg/platform"
	"github.com/meeboter/meeboter/pkg/platform/ecs/ecssim"
)

// Integration tests: the real SDK against the ECS simulator, on loopback.

func simConfig(mod func(*ecssim.Config)) ecssim.Config {
	cfg := ecssim.Config{
		AccessKeyID:     "AKID",
		SecretAccessKey: "SECRET",
		Region:          "us-east-1",
		Clusters:        []string{"bots"},
		TaskDefinitions: map[string]ecssim.TaskDef{
			"meeboter-zoom:3": {ContainerName: "bot"},
			"meeboter-meet:1": {ContainerName: "bot"},
		},
		ProvisioningDelay: 20 * time.Millisecond,
		PendingDelay:      30 * time.Millisecond,
		StopDelay:         20 * time.Millisecond,
		StopTimeout:       time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	return cfg
}

func simPlatform(t *testing.T, simCfg ecssim.Config, mod func(*Config), retryOpts ...func(*retry.StandardOptions)) (*ecssim.Sim, *Platform) {
	t.Helper()
	sim, srv := ecssim.NewServer(t, simCfg)
	client := ecs.New(ecs.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		Retryer: retry.NewStandard(append([]func(*retry.StandardOptions){func(o *retry.StandardOptions) {
			o.RateLimiter = ratelimit.None
			o.MaxBackoff = 50 * time.Millisecond
		}}, retryOpts...)...),
	})
	cfg := testConfig()
	cfg.TaskDefinitions = map[string]string{"zoom": "meeboter-zoom:3", "google-meet": "meeboter-meet"}
	if mod != nil {
		mod(&cfg)
	}
	return sim, newPlatform(t, client, cfg)
}

// waitListed polls List until cond holds for the workload with that ARN.
func waitListed(t *testing.T, p *Platform, arn string, cond func(platform.Listed) bool) platform.Listed {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var last platform.Listed
	for time.Now().Before(deadline) {
		listed, err := p.List(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range listed {
			if l.ExternalID == arn {
				last = l
				if cond(l) {
					return l
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never reached the condition; last %+v", arn, last)
	return last
}

func TestSimCreateAdoptStop(t *testing.T) {
	sim, p := simPlatform(t, simConfig(nil), nil)
	ctx := context.Background()
	w := workload("meeboter-b1-1", map[string]string{"BOT_TOKEN": "first"})
	arn, err := p.Create(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	snap, ok := sim.Task(arn)
	if !ok {
		t.Fatalf("no task %s", arn)
	}
	if snap.ClientToken != "meeboter-b1-1" || snap.StartedBy != "meeboter" || snap.TaskDefinition != "meeboter-zoom:3" ||
		snap.Tags[TagDeployment] != "meeboter-b1-1" || snap.Tags[TagBot] != "b1" || snap.Tags[TagAttempt] != "2" ||
		snap.Env["BOT_TOKEN"] != "first" || snap.Env[EnvWorkload] != "meeboter-b1-1" {
		t.Errorf("task %+v", snap)
	}
	running := waitListed(t, p, arn, func(l platform.Listed) bool { return l.Phase == platform.PhaseRunning })
	if running.Name != w.Name || running.CreatedAt.IsZero() {
		t.Errorf("running task listed as %+v", running)
	}

	// A crash after RunTask: the same Create adopts (replay), and so does a
	// retry whose attempt token was rotated (conflict).
	if again, err := p.Create(ctx, w); err != nil || again != arn {
		t.Fatalf("replayed Create = %q, %v; want %s", again, err, arn)
	}
	w.Env = map[string]string{"BOT_TOKEN": "rotated"}
	if again, err := p.Create(ctx, w); err != nil || again != arn {
		t.Fatalf("Create with a rotated token = %q, %v; want %s", again, err, arn)
	}
	if st := sim.Stats(); st.Launched != 1 || st.Replays != 1 || st.Conflicts != 1 {
		t.Errorf("stats: launched %d, replays %d, conflicts %d; want 1, 1, 1", st.Launched, st.Replays, st.Conflicts)
	}

	l, found, err := p.Lookup(ctx, w.Name)
	if err != nil || !found || l.ExternalID != arn {
		t.Fatalf("Lookup = %+v, %v, %v", l, found, err)
	}

	// Stop is idempotent, by ARN or by name; the stopped task, tags gone,
	// is still listed by ARN and named from its overrides.
	if _, err := p.Stop(ctx, w.Name, arn); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Stop(ctx, w.Name, arn); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	stopped := waitListed(t, p, arn, func(l platform.Listed) bool { return l.Phase == platform.PhaseExited })
	if stopped.Name != w.Name || stopped.Reason != "UserInitiated: "+StopReason {
		t.Errorf("stopped task listed as %+v", stopped)
	}
	if snap, _ := sim.Task(arn); len(snap.Tags) != 0 {
		t.Errorf("simulator kept tags on a stopped task: %v", snap.Tags)
	}
	if _, err := p.Stop(ctx, w.Name, arn); err != nil {
		t.Fatalf("Stop of a stopped task: %v", err)
	}
	if _, err := p.Stop(ctx, w.Name, ""); err != nil {
		t.Fatalf("Stop by name of a stopped task: %v", err)
	}
	if _, found, err := p.Lookup(ctx, w.Name); err != nil || found {
		t.Errorf("Lookup of a stopped task: found %v, %v", found, err)
	}
	unknown := "arn:aws:ecs:us-east-1:123456789012:task/bots/ffffffffffffffffffffffffffffffff"
	if _, err := p.Stop(ctx, "meeboter-nobody-1", unknown); err != nil {
		t.Fatalf("Stop of an unknown task: %v", err)
	}
}

func TestSimCrashedTaskListedWithExitCode(t *testing.T) {
	sim, p := simPlatform(t, simConfig(nil), nil)
	arn, err := p.Create(context.Background(), workload("meeboter-b2-1", nil))
	if err != nil {
		t.Fatal(err)
	}
	waitListed(t, p, arn, func(l platform.Listed) bool { return l.Phase == platform.PhaseRunning })
	if err := sim.CrashTask(arn, 3); err != nil {
		t.Fatal(err)
	}
	l := waitListed(t, p, arn, func(l platform.Listed) bool { return l.Phase == platform.PhaseExited && l.ExitCode != nil })
	if *l.ExitCode != 3 || l.Name != "meeboter-b2-1" {
		t.Errorf("crashed task listed as %+v (exit %d)", l, *l.ExitCode)
	}
}

func TestSimCapacity(t *testing.T) {
	sim, p := simPlatform(t, simConfig(nil), nil)
	ctx := context.Background()
	sim.SetCapacityFailures("RESOURCE:MEMORY", 1)
	if _, err := p.Create(ctx, workload("meeboter-b3-1", nil)); !errors.Is(err, platform.ErrCapacity) {
		t.Fatalf("RESOURCE:MEMORY: %v", err)
	}
	sim.CapacityUnavailable(time.Hour)
	if _, err := p.Create(ctx, workload("meeboter-b3-2", nil)); !errors.Is(err, platform.ErrCapacity) {
		t.Fatalf("capacity unavailable (failure): %v", err)
	}
	sim.SetCapacityAsError(true)
	if _, err := p.Create(ctx, workload("meeboter-b3-3", nil)); !errors.Is(err, platform.ErrCapacity) {
		t.Fatalf("capacity unavailable (exception): %v", err)
	}
	sim.CapacityUnavailable(0)
	if _, err := p.Create(ctx, workload("meeboter-b3-4", nil)); err != nil {
		t.Fatalf("capacity back: %v", err)
	}
	if st := sim.Stats(); st.Launched != 1 {
		t.Errorf("launched %d", st.Launched)
	}
}

func TestSimProvisioningQuotaIsCapacity(t *testing.T) {
	_, p := simPlatform(t, simConfig(func(c *ecssim.Config) {
		c.MaxProvisioningTasks = 1
		c.ProvisioningDelay = time.Hour
	}), nil)
	ctx := context.Background()
	if _, err := p.Create(ctx, workload("meeboter-b4-1", nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Create(ctx, workload("meeboter-b4-2", nil)); !errors.Is(err, platform.ErrCapacity) {
		t.Fatalf("PROVISIONING quota: %v", err)
	}
}

func TestSimListPaginatesAndBatches(t *testing.T) {
	const n = 230
	// Calls are counted as the driver makes them: an SDK retry of a
	// connection reset under load is not another call of the driver's.
	var mu sync.Mutex
	calls := map[string]int{}
	sim, p := simPlatform(t, simConfig(func(c *ecssim.Config) { c.NoThrottle = true }), func(c *Config) {
		c.LaunchRate, c.ModifyRate, c.ReadRate = rate.Inf, rate.Inf, rate.Inf
		c.OnRequest = func(op string, _ error, _ time.Duration) {
			mu.Lock()
			calls[op]++
			mu.Unlock()
		}
	})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.Create(ctx, workload(fmt.Sprintf("meeboter-p%d-1", i), nil)); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// A few stopped ones too.
	tasks := sim.Tasks()
	for _, tk := range tasks[:5] {
		if _, err := p.Stop(ctx, "", tk.ARN); err != nil {
			t.Fatal(err)
		}
	}
	for _, tk := range tasks[:5] {
		for deadline := time.Now().Add(10 * time.Second); ; {
			if now, _ := sim.Task(tk.ARN); now.LastStatus == "STOPPED" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("task %s not stopped", tk.ARN)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	mu.Lock()
	clear(calls)
	mu.Unlock()
	listed, err := p.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(listed) != n {
		t.Fatalf("listed %d, want %d", len(listed), n)
	}
	names := map[string]bool{}
	exited := 0
	for _, l := range listed {
		names[l.Name] = true
		if l.Phase == platform.PhaseExited {
			exited++
		}
	}
	if len(names) != n || exited != 5 {
		t.Errorf("%d distinct names, %d exited; want %d, 5", len(names), exited, n)
	}
	// 225 running: 3 pages; 5 stopped: 1 page. 230 tasks: 3 DescribeTasks.
	if got := calls["ListTasks"]; got != 4 {
		t.Errorf("%d ListTasks calls, want 4", got)
	}
	if got := calls["DescribeTasks"]; got != 3 {
		t.Errorf("%d DescribeTasks calls, want 3", got)
	}
}

func TestSimBurstStaysUnderThrottling(t *testing.T) {
	if testing.Short() {
		t.Skip("takes about 2.5 s")
	}
	// The simulator throttles like ECS (modify 100/40, Fargate launches
	// 100/20); 150 concurrent Creates wait in our buckets instead. Our
	// bucket and ECS's are not in phase (request latencies differ), so an
	// odd throttle may still happen: the SDK's retry absorbs it.
	const n = 150
	sim, p := simPlatform(t, simConfig(nil), nil)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.Create(context.Background(), workload(fmt.Sprintf("meeboter-burst%d-1", i), nil)); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if st := sim.Stats(); st.Throttled > 5 || st.Launched != n {
		t.Errorf("throttled %d, launched %d; want at most 5 and %d", st.Throttled, st.Launched, n)
	}
}

func TestSimThrottleStormAbsorbed(t *testing.T) {
	sim, p := simPlatform(t, simConfig(nil), nil, func(o *retry.StandardOptions) { o.MaxAttempts = 20 })
	ctx := context.Background()
	sim.ThrottleStorm(150 * time.Millisecond)
	arn, err := p.Create(ctx, workload("meeboter-b5-1", nil))
	if err != nil {
		t.Fatalf("Create through a storm: %v", err)
	}
	if _, err := p.List(ctx); err != nil {
		t.Fatalf("List after a storm: %v", err)
	}
	st := sim.Stats()
	if st.Throttled == 0 || st.Launched != 1 {
		t.Errorf("throttled %d, launched %d; want some, 1", st.Throttled, st.Launched)
	}
	if snap, _ := sim.Task(arn); snap.ClientToken != "meeboter-b5-1" {
		t.Errorf("token %q", snap.ClientToken)
	}
}

func TestSimServerErrorsFailList(t *testing.T) {
	sim, p := simPlatform(t, simConfig(nil), nil, func(o *retry.StandardOptions) { o.MaxAttempts = 1 })
	ctx := context.Background()
	if _, err := p.Create(ctx, workload("meeboter-b6-1", nil)); err != nil {
		t.Fatal(err)
	}
	sim.SetErrorRate(1)
	if got, err := p.List(ctx); err == nil || got != nil {
		t.Fatalf("List with every call failing = %v, %v", got, err)
	}
	if _, err := p.Create(ctx, workload("meeboter-b6-2", nil)); err == nil || errors.Is(err, platform.ErrCapacity) {
		t.Fatalf("Create with every call failing: %v", err)
	}
}

func TestSimConsistencyLag(t *testing.T) {
	_, p := simPlatform(t, simConfig(func(c *ecssim.Config) { c.ConsistencyLag = 300 * time.Millisecond }), nil)
	ctx := context.Background()
	arn, err := p.Create(ctx, workload("meeboter-b7-1", nil))
	if err != nil {
		t.Fatal(err)
	}
	listed, err := p.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range listed {
		if l.ExternalID == arn {
			t.Fatalf("task inside the consistency lag listed as %+v", l)
		}
	}
	// Described directly inside the lag, it is MISSING: left out, no error.
	tasks, err := p.describe(ctx, []string{arn})
	if err != nil || len(tasks) != 0 {
		t.Fatalf("describe inside the lag = %d tasks, %v; want none and no error", len(tasks), err)
	}
	waitListed(t, p, arn, func(l platform.Listed) bool { return l.Phase == platform.PhaseRunning })
}
