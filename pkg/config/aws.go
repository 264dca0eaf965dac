package config

import "strings"

// PlatformAWS is the AWS ECS platform.
const PlatformAWS = "aws"

// AWS configures the ECS platform (names from the seed's deployment guide).
// Credentials come from the SDK's default chain.
type AWS struct {
	Region  string
	Cluster string
	// TaskDefinitions by meeting platform (ECS_TASK_DEF_ZOOM, …).
	TaskDefinitions   map[string]string
	ContainerName     string
	Subnets           []string
	SecurityGroups    []string
	AssignPublicIP    bool
	LaunchType        string
	CapacityProviders []string // e.g. FARGATE_SPOT: a strategy instead of a launch type
	BotLimit          int
	// Client-side token buckets, per second (burst), below ECS's own.
	ModifyRate, ReadRate, LaunchRate    float64
	ModifyBurst, ReadBurst, LaunchBurst int
}

// Configured reports whether region and cluster are set (auto-detection).
func (a AWS) Configured() bool { return a.Region != "" && a.Cluster != "" }

func (r *reader) aws() AWS {
	a := AWS{
		Region:            r.str("AWS_REGION", ""),
		Cluster:           r.str("ECS_CLUSTER", ""),
		ContainerName:     r.str("ECS_CONTAINER_NAME", "bot"),
		Subnets:           list(r.str("ECS_SUBNETS", "")),
		SecurityGroups:    list(r.str("ECS_SECURITY_GROUPS", "")),
		AssignPublicIP:    r.oneOf("ECS_ASSIGN_PUBLIC_IP", "true", "true", "false") == "true",
		LaunchType:        strings.ToUpper(r.oneOf("ECS_LAUNCH_TYPE", "fargate", "fargate", "ec2", "external")),
		CapacityProviders: list(r.str("ECS_CAPACITY_PROVIDERS", "")),
		BotLimit:          r.int("AWS_BOT_LIMIT", 50, 1),
		ModifyRate:        float64(r.int("ECS_MODIFY_RATE", 40, 1)),
		ModifyBurst:       r.int("ECS_MODIFY_BURST", 100, 1),
		ReadRate:          float64(r.int("ECS_READ_RATE", 20, 1)),
		ReadBurst:         r.int("ECS_READ_BURST", 100, 1),
		LaunchRate:        float64(r.int("ECS_LAUNCH_RATE", 20, 1)),
		LaunchBurst:       r.int("ECS_LAUNCH_BURST", 100, 1),
		TaskDefinitions:   map[string]string{},
	}
	for mp, suffix := range meetingPlatformEnv {
		if v := r.str("ECS_TASK_DEF_"+suffix, ""); v != "" {
			a.TaskDefinitions[mp] = v
		}
	}
	return a
}

// requireAWS checks what the ECS platform cannot run without.
func (r *reader) requireAWS(a AWS) {
	for _, v := range [][2]string{{"AWS_REGION", a.Region}, {"ECS_CLUSTER", a.Cluster}} {
		if v[1] == "" {
			r.fail(v[0], "required when the platform is aws")
		}
	}
	if len(a.TaskDefinitions) == 0 {
		r.fail("ECS_TASK_DEF_ZOOM", "at least one of ECS_TASK_DEF_ZOOM, ECS_TASK_DEF_MICROSOFT_TEAMS, ECS_TASK_DEF_GOOGLE_MEET is required when the platform is aws")
	}
	if len(a.Subnets) == 0 {
		r.fail("ECS_SUBNETS", "required (comma-separated) when the platform is aws: Fargate tasks use awsvpc networking")
	}
}

func list(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
