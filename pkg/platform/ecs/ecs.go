package ecs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"golang.org/x/time/rate"

	"github.com/meeboter/meeboter/pkg/clock"
	"github.com/meeboter/meeboter/pkg/platform"
)

// Name is the platform's name in rows and metrics.
const Name = "aws"

// Defaults.
const (
	DefaultContainerName = "bot"
	DefaultStartedBy     = "meeboter"
	DefaultLaunchType    = "FARGATE"
)

// Tag keys set on every task, and the environment variable that names the
// workload after its tags are gone.
const (
	TagBot        = "meeboter:bot"
	TagAttempt    = "meeboter:attempt"
	TagDeployment = "meeboter:deployment"
	EnvWorkload   = "MEEBOTER_WORKLOAD"
)

// StopReason is the reason given to StopTask.
const StopReason = "meeboter: stopped by the controller"

const (
	maxClientToken = 64
	describeBatch  = 100
	listPage       = 100
)

// Config configures the ECS platform.
type Config struct {
	Cluster string
	// TaskDefinitions maps a meeting platform (zoom, microsoft-teams,
	// google-meet) to a task definition, family or family:revision.
	TaskDefinitions map[string]string
	// ContainerName is the container whose environment is overridden
	// (default "bot").
	ContainerName string
	// LaunchType is used unless CapacityProviders is set (default FARGATE).
	LaunchType string
	// CapacityProviders, e.g. all FARGATE_SPOT, replaces the launch type.
	CapacityProviders []types.CapacityProviderStrategyItem
	// Subnets and SecurityGroups make the awsvpc configuration; without
	// subnets no network configuration is sent.
	Subnets, SecurityGroups []string
	AssignPublicIP          bool
	// StartedBy marks our tasks, and ListTasks(startedBy) finds them (default
	// "meeboter"; ≤ 128 of [A-Za-z0-9-/_]).
	StartedBy string
	// Client-side token buckets (0: ECS's own defaults): cluster-resource
	// modify 40/s burst 100, read 20/s burst 100, Fargate launches 20/s burst 100.
	ModifyRate, ReadRate, LaunchRate    rate.Limit
	ModifyBurst, ReadBurst, LaunchBurst int
	Clock                               clock.Clock
	// OnRequest, when set, is called after every API call (op is the ECS
	// operation, d its duration including retries and rate-limit waits).
	OnRequest func(op string, err error, d time.Duration)
}

// Platform runs each workload as one ECS task.
type Platform struct {
	client               *ecs.Client
	cfg                  Config
	modify, read, launch *rate.Limiter
}

var (
	_ platform.Platform  = (*Platform)(nil)
	_ platform.Describer = (*Platform)(nil)
	_ platform.IDLister  = (*Platform)(nil)
)

// New checks cfg and fills its defaults.
func New(client *ecs.Client, cfg Config) (*Platform, error) {
	if client == nil {
		return nil, errors.New("aws: nil ECS client")
	}
	if cfg.Cluster == "" {
		return nil, errors.New("aws: no ECS cluster")
	}
	if len(cfg.TaskDefinitions) == 0 {
		return nil, errors.New("aws: no task definitions (ECS_TASK_DEF_ZOOM, ECS_TASK_DEF_MICROSOFT_TEAMS, ECS_TASK_DEF_GOOGLE_MEET)")
	}
	if cfg.ContainerName == "" {
		cfg.ContainerName = DefaultContainerName
	}
	if cfg.LaunchType == "" {
		cfg.LaunchType = DefaultLaunchType
	}
	if cfg.StartedBy == "" {
		cfg.StartedBy = DefaultStartedBy
	}
	if len(cfg.StartedBy) > 128 || strings.TrimLeft(cfg.StartedBy, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-/_") != "" {
		return nil, fmt.Errorf("aws: startedBy %q: at most 128 of [A-Za-z0-9-/_]", cfg.StartedBy)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Wall{}
	}
	bucket := func(r rate.Limit, b int, defR rate.Limit, defB int) *rate.Limiter {
		if r == 0 {
			r = defR
		}
		if b <= 0 {
			b = defB
		}
		return rate.NewLimiter(r, b)
	}
	return &Platform{
		client: client,
		cfg:    cfg,
		modify: bucket(cfg.ModifyRate, cfg.ModifyBurst, 40, 100),
		read:   bucket(cfg.ReadRate, cfg.ReadBurst, 20, 100),
		launch: bucket(cfg.LaunchRate, cfg.LaunchBurst, 20, 100),
	}, nil
}

// NewClient builds an ECS client from the SDK's default configuration chain
// (credentials from the environment, shared files, SSO, or the instance or
// task role). endpoint, when set, replaces the service endpoint; the SDK also
// honours AWS_ENDPOINT_URL_ECS and AWS_ENDPOINT_URL.
func NewClient(ctx context.Context, region, endpoint string) (*ecs.Client, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	if endpoint != "" {
		opts = append(opts, config.WithBaseEndpoint(endpoint))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("aws: load config: %w", err)
	}
	return ecs.NewFromConfig(cfg), nil
}

// Name implements platform.Platform.
func (p *Platform) Name() string { return Name }

// Create runs the task of w, or adopts the one a previous Create of the same
// name started.
func (p *Platform) Create(ctx context.Context, w platform.Workload) (string, error) {
	in, err := p.runTaskInput(w)
	if err != nil {
		return "", err
	}
	var out *ecs.RunTaskOutput
	err = p.call(ctx, "RunTask", func(ctx context.Context) error {
		var err error
		out, err = p.client.RunTask(ctx, in, p.limit(p.modify, p.launch))
		return err
	})
	if err != nil {
		var conflict *types.ConflictException
		if errors.As(err, &conflict) && len(conflict.ResourceIds) > 0 {
			// The token was used by an earlier Create of this workload with
			// other parameters (a controller of another version, say):
			// adopt its task.
			return conflict.ResourceIds[0], nil
		}
		if isCapacityError(err) {
			return "", fmt.Errorf("aws: RunTask %s: %w: %w", w.Name, platform.ErrCapacity, err)
		}
		if isPermanent(err) {
			return "", platform.Permanent(fmt.Errorf("aws: RunTask %s: %w", w.Name, err))
		}
		return "", fmt.Errorf("aws: RunTask %s: %w", w.Name, err)
	}
	for _, t := range out.Tasks {
		if arn := aws.ToString(t.TaskArn); arn != "" {
			return arn, nil
		}
	}
	if len(out.Failures) == 0 {
		return "", fmt.Errorf("aws: RunTask %s: no task and no failure in the response", w.Name)
	}
	f := out.Failures[0]
	msg := fmt.Sprintf("aws: RunTask %s: %s", w.Name, aws.ToString(f.Reason))
	if d := aws.ToString(f.Detail); d != "" {
		msg += " (" + d + ")"
	}
	if isCapacityFailure(f) {
		return "", fmt.Errorf("%s: %w", msg, platform.ErrCapacity)
	}
	return "", errors.New(msg)
}

// runTaskInput is the RunTask request of w: deterministic for equal workloads.
func (p *Platform) runTaskInput(w platform.Workload) (*ecs.RunTaskInput, error) {
	if w.Name == "" {
		return nil, errors.New("aws: workload without a name")
	}
	td, ok := p.cfg.TaskDefinitions[w.MeetingPlatform]
	if !ok || td == "" {
		return nil, platform.Permanent(fmt.Errorf("aws: no task definition for meeting platform %q", w.MeetingPlatform))
	}
	env := make([]types.KeyValuePair, 0, len(w.Env)+1)
	for k, v := range w.Env {
		if k != EnvWorkload {
			env = append(env, types.KeyValuePair{Name: aws.String(k), Value: aws.String(v)})
		}
	}
	env = append(env, types.KeyValuePair{Name: aws.String(EnvWorkload), Value: aws.String(w.Name)})
	sort.Slice(env, func(i, j int) bool { return *env[i].Name < *env[j].Name })

	in := &ecs.RunTaskInput{
		Cluster:        aws.String(p.cfg.Cluster),
		TaskDefinition: aws.String(td),
		Count:          aws.Int32(1),
		ClientToken:    aws.String(ClientToken(tokenName(w))),
		StartedBy:      aws.String(p.cfg.StartedBy),
		Overrides: &types.TaskOverride{ContainerOverrides: []types.ContainerOverride{
			{Name: aws.String(p.cfg.ContainerName), Environment: env},
		}},
		Tags: []types.Tag{
			{Key: aws.String(TagBot), Value: aws.String(w.BotID)},
			{Key: aws.String(TagAttempt), Value: aws.String(strconv.Itoa(w.Attempt))},
			{Key: aws.String(TagDeployment), Value: aws.String(w.Name)},
		},
	}
	if len(p.cfg.CapacityProviders) > 0 {
		in.CapacityProviderStrategy = p.cfg.CapacityProviders
	} else {
		in.LaunchType = types.LaunchType(p.cfg.LaunchType)
	}
	if len(p.cfg.Subnets) > 0 {
		public := types.AssignPublicIpDisabled
		if p.cfg.AssignPublicIP {
			public = types.AssignPublicIpEnabled
		}
		in.NetworkConfiguration = &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{
			Subnets:        p.cfg.Subnets,
			SecurityGroups: p.cfg.SecurityGroups,
			AssignPublicIp: public,
		}}
	}
	return in, nil
}

// tokenName is what a create try's clientToken is made from. ECS answers a
// reused token with the original result, failures included: after a
// capacity refusal (which created nothing) the next try needs a new token,
// while every retry of an ambiguous failure must reuse the old one.
func tokenName(w platform.Workload) string {
	if w.Try == 0 {
		return w.Name
	}
	return w.Name + "." + strconv.Itoa(w.Try)
}

// ClientToken is the RunTask idempotency token of a workload: its name when
// that is a valid token (≤ 64 printable ASCII characters), else a prefix of it
// and a hash of the whole name.
func ClientToken(name string) string {
	valid := len(name) <= maxClientToken
	for i := 0; valid && i < len(name); i++ {
		valid = name[i] >= 33 && name[i] <= 126
	}
	if valid {
		return name
	}
	sum := sha256.Sum256([]byte(name))
	suffix := "-" + hex.EncodeToString(sum[:12])
	var b strings.Builder
	for i := 0; i < len(name) && b.Len() < maxClientToken-len(suffix); i++ {
		if name[i] >= 33 && name[i] <= 126 {
			b.WriteByte(name[i])
		}
	}
	return b.String() + suffix
}

var capacityMessages = []string{
	"capacity is unavailable",            // Fargate: no capacity in the AZ
	"reached the limit on the number of", // account limit on concurrent tasks or vCPUs
	"provisioning capacity limit",        // cluster quota of tasks in PROVISIONING
	"tasks in the provisioning",
	"provisioning per cluster",
}

func hasCapacityMessage(s string) bool {
	s = strings.ToLower(s)
	for _, m := range capacityMessages {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

func isCapacityFailure(f types.Failure) bool {
	return strings.HasPrefix(aws.ToString(f.Reason), "RESOURCE:") ||
		hasCapacityMessage(aws.ToString(f.Reason)) || hasCapacityMessage(aws.ToString(f.Detail))
}

// permanentErrors are the RunTask exceptions retrying cannot fix (a
// ClientException that is not about capacity is the caller's fault too).
var permanentErrors = []string{"ClientException", "InvalidParameterException", "ClusterNotFoundException",
	"AccessDeniedException", "PlatformUnknownException", "PlatformTaskDefinitionIncompatibilityException",
	"UnsupportedFeatureException", "BlockedException", "UnrecognizedClientException"}

func isPermanent(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api) && slices.Contains(permanentErrors, api.ErrorCode())
}

func isCapacityError(err error) bool {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return false
	}
	return hasCapacityMessage(api.ErrorMessage())
}

// Lookup finds the live task of a workload by name (see the package doc).
func (p *Platform) Lookup(ctx context.Context, name string) (platform.Listed, bool, error) {
	if name == "" {
		return platform.Listed{}, false, nil // never match the unnamed
	}
	var found *platform.Listed
	err := p.listARNs(ctx, types.DesiredStatusRunning, func(arns []string) (bool, error) {
		tasks, err := p.describe(ctx, arns)
		if err != nil {
			return false, err
		}
		for _, t := range tasks {
			if l := p.listed(t); l.Name == name {
				found = &l
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil || found == nil {
		return platform.Listed{}, false, err
	}
	return *found, true, nil
}

// Stop stops the task; one already stopped or unknown to ECS is not an
// error. It is gone only when ECS says it stopped: otherwise the task runs
// down its stop timeout, and the observer sees it STOPPED.
func (p *Platform) Stop(ctx context.Context, name, externalID string) (bool, error) {
	if externalID == "" {
		// A create whose answer was lost: its task may exist and not be
		// listed yet (eventual consistency), so not finding it proves
		// nothing; the observer and GC settle it.
		l, found, err := p.Lookup(ctx, name)
		if err != nil || !found {
			return false, err
		}
		externalID = l.ExternalID
	}
	var out *ecs.StopTaskOutput
	err := p.call(ctx, "StopTask", func(ctx context.Context) error {
		var err error
		out, err = p.client.StopTask(ctx, &ecs.StopTaskInput{
			Cluster: aws.String(p.cfg.Cluster),
			Task:    aws.String(externalID),
			Reason:  aws.String(StopReason),
		}, p.limit(p.modify))
		return err
	})
	var invalid *types.InvalidParameterException
	if errors.As(err, &invalid) && strings.Contains(strings.ToLower(invalid.ErrorMessage()), "not found") {
		return true, nil // gone already: stopped more than an hour ago, or never there
	}
	if err != nil {
		return false, fmt.Errorf("aws: StopTask %s (%s): %w", name, externalID, err)
	}
	return out.Task != nil && aws.ToString(out.Task.LastStatus) == string(types.DesiredStatusStopped), nil
}

// List returns every task of startedBy ECS still reports, running or
// recently stopped, or an error: never a partial list.
func (p *Platform) List(ctx context.Context) ([]platform.Listed, error) {
	var arns []string
	seen := map[string]bool{}
	// RUNNING first: a task stopping between the two listings is then seen
	// at least once.
	for _, status := range []types.DesiredStatus{types.DesiredStatusRunning, types.DesiredStatusStopped} {
		err := p.listARNs(ctx, status, func(page []string) (bool, error) {
			for _, a := range page {
				if !seen[a] {
					seen[a] = true
					arns = append(arns, a)
				}
			}
			return true, nil
		})
		if err != nil {
			return nil, err
		}
	}
	out := make([]platform.Listed, 0, len(arns))
	for start := 0; start < len(arns); start += describeBatch {
		tasks, err := p.describe(ctx, arns[start:min(start+describeBatch, len(arns))])
		if err != nil {
			return nil, err
		}
		for _, t := range tasks {
			out = append(out, p.listed(t))
		}
	}
	return out, nil
}

// ListIDs implements platform.IDLister: the ARNs of every task of
// startedBy ECS runs (desired RUNNING), from ListTasks alone.
func (p *Platform) ListIDs(ctx context.Context) ([]string, error) {
	var arns []string
	err := p.listARNs(ctx, types.DesiredStatusRunning, func(page []string) (bool, error) {
		arns = append(arns, page...)
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return uniqueIDs(arns), nil
}

// listARNs pages through ListTasks(cluster, startedBy, desiredStatus), handing
// each page to fn until fn returns false.
func (p *Platform) listARNs(ctx context.Context, status types.DesiredStatus, fn func([]string) (bool, error)) error {
	var next *string
	for {
		var out *ecs.ListTasksOutput
		err := p.call(ctx, "ListTasks", func(ctx context.Context) error {
			var err error
			out, err = p.client.ListTasks(ctx, &ecs.ListTasksInput{
				Cluster:       aws.String(p.cfg.Cluster),
				StartedBy:     aws.String(p.cfg.StartedBy),
				DesiredStatus: status,
				MaxResults:    aws.Int32(listPage),
				NextToken:     next,
			}, p.limit(p.read))
			return err
		})
		if err != nil {
			return fmt.Errorf("aws: ListTasks %s: %w", status, err)
		}
		if len(out.TaskArns) > 0 {
			more, err := fn(out.TaskArns)
			if err != nil || !more {
				return err
			}
		}
		if aws.ToString(out.NextToken) == "" {
			return nil
		}
		next = out.NextToken
	}
}

// Describe implements platform.Describer: DescribeTasks of the ARNs, 100 a
// call. DescribeTasks answers for exactly the tasks asked, so a MISSING
// failure is evidence of absence for that task alone (a task ECS has
// forgotten, or one too new to be seen yet: the caller's grace covers that).
func (p *Platform) Describe(ctx context.Context, arns []string) ([]platform.Listed, []string, error) {
	arns = uniqueIDs(arns)
	var found []platform.Listed
	var missing []string
	for start := 0; start < len(arns); start += describeBatch {
		batch := arns[start:min(start+describeBatch, len(arns))]
		tasks, gone, err := p.describeAll(ctx, batch)
		if err != nil {
			return nil, nil, err
		}
		// ECS answers with full ARNs: map each answer to the id asked.
		asked := make(map[string]string, 2*len(batch))
		for _, id := range batch {
			asked[id] = id
			asked[taskID(id)] = id
		}
		answered := make(map[string]bool, len(batch))
		for _, t := range tasks {
			l := p.listed(t)
			id, ok := answerTo(asked, l.ExternalID)
			if !ok || answered[id] {
				continue
			}
			answered[id] = true
			l.ExternalID = id
			found = append(found, l)
		}
		for _, arn := range gone {
			if id, ok := answerTo(asked, arn); ok && !answered[id] {
				answered[id] = true
				missing = append(missing, id)
			}
		}
		for _, id := range batch {
			if !answered[id] {
				return nil, nil, fmt.Errorf("aws: DescribeTasks: no answer for %s", id)
			}
		}
	}
	return found, missing, nil
}

// uniqueIDs drops empty and repeated ids, keeping the order.
func uniqueIDs(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// taskID is the last part of a task ARN (the id itself for a bare id).
func taskID(arn string) string { return arn[strings.LastIndexByte(arn, '/')+1:] }

// answerTo is the asked id an ARN in a DescribeTasks answer stands for.
func answerTo(asked map[string]string, arn string) (string, bool) {
	if id, ok := asked[arn]; ok {
		return id, true
	}
	id, ok := asked[taskID(arn)]
	return id, ok
}

// describe describes up to 100 tasks. MISSING ones (eventual consistency
// right after RunTask, or gone) are left out; any other failure is an error.
func (p *Platform) describe(ctx context.Context, arns []string) ([]types.Task, error) {
	tasks, _, err := p.describeAll(ctx, arns)
	return tasks, err
}

// describeAll describes up to 100 tasks: those ECS knows, and the ARNs of
// those it says are MISSING; any other failure is an error.
func (p *Platform) describeAll(ctx context.Context, arns []string) ([]types.Task, []string, error) {
	var out *ecs.DescribeTasksOutput
	err := p.call(ctx, "DescribeTasks", func(ctx context.Context) error {
		var err error
		out, err = p.client.DescribeTasks(ctx, &ecs.DescribeTasksInput{
			Cluster: aws.String(p.cfg.Cluster),
			Tasks:   arns,
			Include: []types.TaskField{types.TaskFieldTags},
		}, p.limit(p.read))
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("aws: DescribeTasks: %w", err)
	}
	var missing []string
	for _, f := range out.Failures {
		if aws.ToString(f.Reason) != "MISSING" {
			return nil, nil, fmt.Errorf("aws: DescribeTasks %s: %s %s", aws.ToString(f.Arn), aws.ToString(f.Reason), aws.ToString(f.Detail))
		}
		missing = append(missing, aws.ToString(f.Arn))
	}
	return out.Tasks, missing, nil
}

// listed maps a described task.
func (p *Platform) listed(t types.Task) platform.Listed {
	l := platform.Listed{
		Name:        taskName(t),
		ExternalID:  aws.ToString(t.TaskArn),
		Observation: observe(t, p.cfg.ContainerName),
	}
	if t.CreatedAt != nil {
		l.CreatedAt = *t.CreatedAt
	}
	// A stopped task costs nothing and cannot be stopped again: it is
	// listed for its exit code only.
	l.Released = aws.ToString(t.LastStatus) == string(types.DesiredStatusStopped)
	return l
}

// taskName is the workload name of a task: its meeboter:deployment tag, else
// (tags are deleted on stop) the MEEBOTER_WORKLOAD of its overrides, else "".
func taskName(t types.Task) string {
	for _, tag := range t.Tags {
		if aws.ToString(tag.Key) == TagDeployment {
			return aws.ToString(tag.Value)
		}
	}
	if t.Overrides != nil {
		for _, c := range t.Overrides.ContainerOverrides {
			for _, kv := range c.Environment {
				if aws.ToString(kv.Name) == EnvWorkload {
					return aws.ToString(kv.Value)
				}
			}
		}
	}
	return ""
}

// call runs one API operation and reports it to OnRequest.
func (p *Platform) call(ctx context.Context, op string, fn func(context.Context) error) error {
	start := p.cfg.Clock.Now()
	err := fn(ctx)
	if p.cfg.OnRequest != nil {
		p.cfg.OnRequest(op, err, p.cfg.Clock.Now().Sub(start))
	}
	return err
}

// limit makes every HTTP attempt of a call, retries included, take a token
// from each bucket first.
func (p *Platform) limit(buckets ...*rate.Limiter) func(*ecs.Options) {
	mw := middleware.FinalizeMiddlewareFunc("MeeboterRateLimit", func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
		for _, b := range buckets {
			if err := b.Wait(ctx); err != nil {
				return middleware.FinalizeOutput{}, middleware.Metadata{}, fmt.Errorf("aws: rate limit: %w", err)
			}
		}
		return next.HandleFinalize(ctx, in)
	})
	return func(o *ecs.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			if err := s.Finalize.Insert(mw, "Retry", middleware.After); err != nil {
				return s.Finalize.Add(mw, middleware.Before)
			}
			return nil
		})
	}
}
