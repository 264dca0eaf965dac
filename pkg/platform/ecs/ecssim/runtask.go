package ecssim

import (
	"encoding/json"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Limits RunTask enforces.
const (
	maxRunCount         = 10
	maxOverridesLength  = 8192 // characters of the overrides JSON
	maxStartedByLength  = 128
	maxClientToken      = 64
	maxTags             = 50
	maxTagKeyLength     = 128
	maxTagValueLength   = 256
	maxSubnets          = 16
	maxSecurityGroups   = 5
	defaultPlatformVers = "1.4.0"
)

// tokenKey scopes a clientToken to its cluster, as ECS does.
type tokenKey struct{ cluster, token string }

// tokenRecord is what a RunTask with a clientToken did, for 24 hours.
type tokenRecord struct {
	fingerprint string
	tasks       []*task
	failures    []failureView
	expires     time.Time
}

// runPlan is a validated RunTask.
type runPlan struct {
	cluster   string
	def       TaskDef
	count     int
	strategy  []strategyItem // nil: launchType FARGATE
	subnets   []string
	overrides json.RawMessage
	env       map[string]string
	in        runTaskRequest
}

func (s *Sim) runTask(body []byte) (any, *apiError) {
	var in runTaskRequest
	if aerr := decode(body, &in); aerr != nil {
		return nil, aerr
	}
	p, aerr := s.planRun(in)
	if aerr != nil {
		return nil, aerr
	}
	now := s.now()
	var key tokenKey
	var fp string
	if in.ClientToken != nil {
		key = tokenKey{p.cluster, *in.ClientToken}
		fp = fingerprint(body, p.cluster)
		if rec := s.tokens[key]; rec != nil && now.Before(rec.expires) {
			return s.replay(rec, fp)
		}
	}
	if s.provisioning(p.cluster)+p.count > s.cfg.MaxProvisioningTasks {
		return nil, clientError("ClientException", "Tasks provisioning capacity limit exceeded.")
	}
	providers := s.placeProviders(p)
	if aerr := s.takeLaunchTokens(now, providers); aerr != nil {
		return nil, aerr
	}
	if s.knobs.capacityAsError && now.Before(s.knobs.capacityUnavailableUntil) {
		return nil, clientError("ClientException", ReasonCapacityUnavailable)
	}
	out := runTaskResponse{Tasks: []taskView{}, Failures: []failureView{}}
	var created []*task
	for _, provider := range providers {
		if f, failed := s.capacityFailure(now); failed {
			out.Failures = append(out.Failures, f)
			continue
		}
		t := s.createTask(p, provider, now)
		created = append(created, t)
		out.Tasks = append(out.Tasks, s.view(t, true))
	}
	s.stats.failures += len(out.Failures)
	if in.ClientToken != nil {
		s.pruneTokens(now)
		s.tokens[key] = &tokenRecord{fingerprint: fp, tasks: created, failures: out.Failures, expires: now.Add(clientTokenTTL)}
	}
	return out, nil
}

// replay answers a RunTask whose clientToken was used before: the same
// parameters get the original tasks (as they are now) and failures, and
// launch nothing; different ones get ConflictException naming them.
func (s *Sim) replay(rec *tokenRecord, fp string) (any, *apiError) {
	arns := make([]string, len(rec.tasks))
	for i, t := range rec.tasks {
		arns[i] = t.arn
	}
	if rec.fingerprint != fp {
		s.stats.conflicts++
		return nil, &apiError{status: http.StatusBadRequest, code: "ConflictException",
			message: "The specified client token has already been used in a different request.", resourceIDs: arns}
	}
	s.stats.replays++
	out := runTaskResponse{Tasks: make([]taskView, 0, len(rec.tasks)), Failures: rec.failures}
	for _, t := range rec.tasks {
		out.Tasks = append(out.Tasks, s.view(t, true))
	}
	return out, nil
}

// fingerprint is the request without its clientToken, with the cluster
// resolved: what "the same parameters" means.
func fingerprint(body []byte, cluster string) string {
	var m map[string]any
	_ = json.Unmarshal(body, &m)
	delete(m, "clientToken")
	m["cluster"] = cluster
	b, _ := json.Marshal(m) // map keys come out sorted
	return string(b)
}

func (s *Sim) pruneTokens(now time.Time) {
	for k, rec := range s.tokens {
		if !now.Before(rec.expires) {
			delete(s.tokens, k)
		}
	}
}

// provisioning counts cluster's tasks in PROVISIONING.
func (s *Sim) provisioning(cluster string) int {
	n := 0
	for _, t := range s.tasks {
		if t.cluster == cluster && t.lastStatus == statusProvisioning {
			n++
		}
	}
	return n
}

// placeProviders picks each task's capacity provider: the strategy's base
// first, then by weight.
func (s *Sim) placeProviders(p runPlan) []string {
	out := make([]string, 0, p.count)
	if p.strategy == nil {
		for range p.count {
			out = append(out, providerFargate)
		}
		return out
	}
	for _, item := range p.strategy {
		for i := 0; item.Base != nil && i < *item.Base && len(out) < p.count; i++ {
			out = append(out, *item.CapacityProvider)
		}
	}
	total := 0
	for _, item := range p.strategy {
		total += weight(item)
	}
	for len(out) < p.count {
		if total == 0 {
			out = append(out, *p.strategy[0].CapacityProvider)
			continue
		}
		n := s.rng.IntN(total)
		for _, item := range p.strategy {
			if n -= weight(item); n < 0 {
				out = append(out, *item.CapacityProvider)
				break
			}
		}
	}
	return out
}

func weight(item strategyItem) int {
	if item.Weight == nil {
		return 0
	}
	return *item.Weight
}

// takeLaunchTokens applies the Fargate launch rate, which counts tasks: a
// RunTask of 10 needs 10 tokens of its provider's bucket.
func (s *Sim) takeLaunchTokens(now time.Time, providers []string) *apiError {
	if !s.knobs.throttle {
		return nil
	}
	need := map[category]float64{}
	for _, p := range providers {
		need[launchCategory(p)]++
	}
	for c, n := range need {
		if s.buckets[c].tokens < n {
			s.buckets[c].refill(now)
		}
		if s.buckets[c].tokens < n {
			s.stats.throttled++
			return errThrottled()
		}
	}
	for c, n := range need {
		s.buckets[c].take(now, n)
	}
	return nil
}

// capacityFailure reports whether the next task fails placement, and how.
func (s *Sim) capacityFailure(now time.Time) (failureView, bool) {
	if now.Before(s.knobs.capacityUnavailableUntil) {
		return failureView{Reason: ReasonCapacityUnavailable}, true
	}
	if s.knobs.capacityFailures > 0 {
		s.knobs.capacityFailures--
		return failureView{Reason: s.knobs.capacityReason}, true
	}
	return failureView{}, false
}

// createTask makes a PROVISIONING task of plan p.
func (s *Sim) createTask(p runPlan, provider string, now time.Time) *task {
	s.taskSeq++
	id := s.newTaskID()
	subnet := p.subnets[s.rng.IntN(len(p.subnets))]
	t := &task{
		seq: s.taskSeq, id: id, arn: s.taskARN(p.cluster, id), cluster: p.cluster, def: p.def,
		provider: provider, viaStrategy: p.strategy != nil,
		group: "family:" + p.def.Family, overrides: p.overrides, env: maps.Clone(p.env),
		enableExecuteCommand: p.in.EnableExecuteCommand, platformVersion: defaultPlatformVers,
		az:     s.cfg.Region + string(rune('a'+int(queryHash(subnet)%3))),
		subnet: subnet, attachmentID: s.uuid(), eniID: "eni-" + randomString(s.rng, 17, lowerHex),
		mac:              s.macAddress(),
		ip:               "10.0." + strconv.Itoa(s.rng.IntN(256)) + "." + strconv.Itoa(1+s.rng.IntN(254)),
		attachmentStatus: "PRECREATED",
		lastStatus:       statusProvisioning, desiredStatus: statusRunning,
		containerID: s.uuid(), containerStatus: statusPending,
		createdAt: now, visibleAt: now.Add(s.knobs.consistencyLag), version: 1,
	}
	if p.in.Group != nil {
		t.group = *p.in.Group
	}
	if p.in.StartedBy != nil {
		t.startedBy = *p.in.StartedBy
	}
	if p.in.ClientToken != nil {
		t.clientToken = *p.in.ClientToken
	}
	if p.in.PlatformVersion != nil && *p.in.PlatformVersion != "LATEST" {
		t.platformVersion = *p.in.PlatformVersion
	}
	t.tags = append([]Tag(nil), p.in.Tags...)
	s.tasks[id] = t
	s.all = append(s.all, t)
	s.stats.launched++
	s.stats.active++
	s.stats.maxActive = max(s.stats.maxActive, s.stats.active)
	s.log.Debug("task created", "task", id, "cluster", p.cluster, "family", p.def.Family, "provider", provider)
	s.provision(t)
	return t
}

// workloadEnv is the container's environment: what Fargate sets, the
// container definition's, then the overrides'.
func (s *Sim) workloadEnv(def TaskDef, overrides []keyValue) map[string]string {
	env := map[string]string{
		"AWS_EXECUTION_ENV":  "AWS_ECS_FARGATE",
		"AWS_REGION":         s.cfg.Region,
		"AWS_DEFAULT_REGION": s.cfg.Region,
	}
	maps.Copy(env, def.Environment)
	for _, kv := range overrides {
		if kv.Name != nil {
			env[*kv.Name] = deref(kv.Value)
		}
	}
	return env
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// macAddress is a random locally administered unicast MAC, as an ENI has.
func (s *Sim) macAddress() string {
	parts := []string{"0a"}
	for range 5 {
		parts = append(parts, randomString(s.rng, 2, lowerHex))
	}
	return strings.Join(parts, ":")
}
