package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The scheduled scenario is written in real-world time and run compressed
// by the time scale: every latency of the simulated world (platform starts
// and stops, call lengths, when bots are created and due, the controller's
// lead-time floors and reservation horizon, the bots' heartbeat and idle
// poll) is multiplied by it, so a 35-minute afternoon runs in 3.5 minutes
// at 0.1. What cannot be scaled is said so in the report: the API's and
// Postgres's own latency, ECS's request and launch rate limits (the
// simulator enforces the real ones) and the controller's loop periods.

// realWorld holds the real-world latencies the simulators model.
type realWorld struct {
	// Fargate: PROVISIONING and PENDING, then the bot process boots; a task
	// is ready 60–90 s after RunTask.
	FargateProvisioning, FargatePending, FargateBootMax time.Duration
	// FargateStop is STOPPING plus DEPROVISIONING; FargateStopTimeout is
	// SIGTERM to SIGKILL. A stopping task still counts against the limit.
	FargateStop, FargateStopTimeout time.Duration
	// CoolifyCold is a slot start that pulls the image, CoolifyWarm one
	// whose image is on the server.
	CoolifyCold, CoolifyWarm time.Duration
	// SlotIdlePoll is how often an idle slot asks for work (the controller's
	// retry_after, 5 s); HeartbeatInterval is what bots beat at.
	SlotIdlePoll, HeartbeatInterval time.Duration
}

var world = realWorld{
	FargateProvisioning: 20 * time.Second, FargatePending: 40 * time.Second, FargateBootMax: 30 * time.Second,
	FargateStop: 30 * time.Second, FargateStopTimeout: 30 * time.Second,
	CoolifyCold: 7 * time.Minute, CoolifyWarm: 30 * time.Second,
	SlotIdlePoll: 5 * time.Second, HeartbeatInterval: 20 * time.Second,
}

// Lead-time floors, the reservation horizon and a bot's longest life (the
// length of a reserved window), at real-world values (DESIGN §4 "On
// time"); the run scales them like the world.
var realFloors = []struct {
	Env   string
	Value time.Duration
}{
	{"MAX_BOT_LIFETIME", 10 * time.Minute},
	{"LEAVE_TIMEOUT", 2 * time.Minute},
	{"JOIN_LEAD_TIME", 10 * time.Second},
	{"LEAD_TIME_FLOOR_LOCAL", 5 * time.Second},
	{"LEAD_TIME_FLOOR_AWS", 90 * time.Second},
	{"LEAD_TIME_FLOOR_COOLIFY", 30 * time.Second},
	{"LEAD_TIME_FLOOR_COOLIFY_COLD", 8 * time.Minute},
	{"RESERVE_AHEAD", 10 * time.Minute},
}

// Rates per real minute: Coolify's API limit (the simulator's) and the
// controller's own bucket below it. A compressed run makes its calls that
// much faster, so both are divided by the scale.
const (
	coolifyServerRatePerMinute = 200
	coolifyClientRatePerMinute = 150
)

// latency is one latency of the simulated world, as modelled and as run.
type latency struct {
	Real   float64 `json:"real_seconds"`
	Scaled float64 `json:"scaled_seconds"`
}

// worldSettings describes the simulated world for the report.
func worldSettings(scale float64) map[string]latency {
	l := func(d time.Duration) latency { return latency{Real: seconds(d), Scaled: seconds(scaled(d, scale))} }
	up := world.FargateProvisioning + world.FargatePending
	return map[string]latency{
		"fargate_start_min": l(up), "fargate_start_max": l(up + world.FargateBootMax),
		"fargate_stop": l(world.FargateStop), "fargate_stop_grace": l(world.FargateStopTimeout),
		"coolify_cold_start": l(world.CoolifyCold), "coolify_warm_start": l(world.CoolifyWarm),
		"slot_idle_poll": l(world.SlotIdlePoll), "bot_heartbeat_interval": l(world.HeartbeatInterval),
	}
}

// floorSettings are the floors and the reservation horizon, as modelled
// and as run, for the report.
func floorSettings(scale float64) map[string]latency {
	out := make(map[string]latency, len(realFloors))
	for _, f := range realFloors {
		out[f.Env] = latency{Real: seconds(f.Value), Scaled: seconds(scaled(f.Value, scale))}
	}
	return out
}

// capacity is what the platforms can run at once: scale does not touch it.
type capacity struct {
	AWSBotLimit      int `json:"aws_bot_limit"`
	PoolMaxSlots     int `json:"pool_max_slots_per_meeting_platform"`
	CoolifyBotLimit  int `json:"coolify_bot_limit"`
	ConcurrentBuilds int `json:"coolify_concurrent_builds"`
}

// scaled multiplies a real-world duration by the time scale, to the
// millisecond.
func scaled(d time.Duration, scale float64) time.Duration {
	return time.Duration(float64(d) * scale).Round(time.Millisecond)
}

// seconds is d in seconds, rounded to the millisecond, for the report.
func seconds(d time.Duration) float64 { return d.Round(time.Millisecond).Seconds() }

// controllerEnv is the controller's configuration for the scenario,
// besides addresses, the database and the simulators' own variables.
// extra (KEY=VALUE) comes last and wins.
func controllerEnv(scale float64, c capacity, extra []string) []string {
	env := []string{
		"LOG_FORMAT=json", "LOG_LEVEL=info",
		"PLATFORM_PRIORITY=coolify,aws",
		// The chaos run's periods: not scaled, the controller's own.
		"RESYNC_INTERVAL=2s", "OBSERVE_INTERVAL=1s", "POOL_SYNC_INTERVAL=1s", "JOB_TIMEOUT=10s",
		"BOT_HEARTBEAT_INTERVAL=" + scaled(world.HeartbeatInterval, scale).String(),
		// Deadlines stay real: a scaled QUEUE_TIMEOUT would fail the ad hoc
		// bots the reservations make wait, which is not what is measured.
		"QUEUE_TIMEOUT=10m", "DEPLOY_TIMEOUT=10m", "MAX_ATTEMPTS=3",
		"POOL_MIN_IDLE=1", "POOL_MAX_SLOTS=" + strconv.Itoa(c.PoolMaxSlots),
		"COOLIFY_BOT_LIMIT=" + strconv.Itoa(c.CoolifyBotLimit),
		"COOLIFY_MAX_CONCURRENT_DEPLOYS=" + strconv.Itoa(c.ConcurrentBuilds),
		"COOLIFY_RATE_LIMIT=" + strconv.Itoa(int(coolifyClientRatePerMinute/scale)),
		"AWS_BOT_LIMIT=" + strconv.Itoa(c.AWSBotLimit),
		"ECS_TASK_DEF_ZOOM=bot:1", "ECS_TASK_DEF_MICROSOFT_TEAMS=bot:1", "ECS_TASK_DEF_GOOGLE_MEET=bot:1",
		"ECS_SUBNETS=subnet-1", "AWS_EC2_METADATA_DISABLED=true",
	}
	for _, f := range realFloors {
		env = append(env, f.Env+"="+scaled(f.Value, scale).String())
	}
	return append(env, extra...)
}

// envMap turns KEY=VALUE lines into a map, later lines winning, for the
// report.
func envMap(env []string) map[string]string {
	out := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			out[k] = v
		}
	}
	return out
}

// checkExtraEnv rejects --sched-env values that are not KEY=VALUE.
func checkExtraEnv(extra []string) error {
	for _, kv := range extra {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return fmt.Errorf("--sched-env %q: want KEY=VALUE", kv)
		}
	}
	return nil
}
