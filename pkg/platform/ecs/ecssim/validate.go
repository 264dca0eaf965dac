package ecssim

import (
	"bytes"
	"encoding/json"
	"strings"
)

// planRun validates a RunTask the way ECS does and resolves what it names.
// Messages follow ECS's where they are known; callers should match on the
// error code, not the text.
func (s *Sim) planRun(in runTaskRequest) (runPlan, *apiError) {
	p := runPlan{in: in, count: 1}
	var aerr *apiError
	if p.cluster, aerr = s.resolveCluster(in.Cluster); aerr != nil {
		return p, aerr
	}
	if in.TaskDefinition == nil || *in.TaskDefinition == "" {
		return p, errInvalidParameter("TaskDefinition can not be blank.")
	}
	def, ok := s.resolveTaskDef(*in.TaskDefinition)
	if !ok {
		return p, clientError("ClientException", "Unable to describe task definition.")
	}
	p.def = def
	if in.Count != nil {
		p.count = *in.Count
	}
	if p.count < 1 || p.count > maxRunCount {
		return p, errInvalidParameter("Count must be between 1 and %d.", maxRunCount)
	}
	if in.ClientToken != nil && !validClientToken(*in.ClientToken) {
		return p, errInvalidParameter("clientToken must be 1 to %d ASCII characters from ! to ~.", maxClientToken)
	}
	if in.StartedBy != nil && !validStartedBy(*in.StartedBy) {
		return p, errInvalidParameter("startedBy must be at most %d letters, numbers, hyphens, forward slashes and underscores.", maxStartedByLength)
	}
	if in.Group != nil && len(*in.Group) > 255 {
		return p, errInvalidParameter("group can be at most 255 characters.")
	}
	if aerr := validateTags(in.Tags); aerr != nil {
		return p, aerr
	}
	if p.strategy, aerr = validateCapacity(in); aerr != nil {
		return p, aerr
	}
	if p.subnets, aerr = validateNetwork(in.NetworkConfiguration); aerr != nil {
		return p, aerr
	}
	var envOverrides []keyValue
	if p.overrides, envOverrides, aerr = validateOverrides(in.Overrides, def); aerr != nil {
		return p, aerr
	}
	p.env = s.workloadEnv(def, envOverrides)
	return p, nil
}

// validClientToken: up to 64 ASCII characters from 33 to 126.
func validClientToken(tok string) bool {
	if tok == "" || len(tok) > maxClientToken {
		return false
	}
	for i := range len(tok) {
		if tok[i] < 33 || tok[i] > 126 {
			return false
		}
	}
	return true
}

// validStartedBy: up to 128 letters, digits, '-', '/' and '_'.
func validStartedBy(v string) bool {
	if len(v) > maxStartedByLength {
		return false
	}
	for _, r := range v {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '/' || r == '_'
		if !ok {
			return false
		}
	}
	return true
}

// validateTags applies ECS's tag restrictions.
func validateTags(tags []Tag) *apiError {
	if len(tags) > maxTags {
		return errInvalidParameter("Tags can have at most %d items.", maxTags)
	}
	seen := map[string]bool{}
	for _, tag := range tags {
		switch {
		case tag.Key == "" || len(tag.Key) > maxTagKeyLength:
			return errInvalidParameter("Tag keys must be between 1 and %d characters.", maxTagKeyLength)
		case len(tag.Value) > maxTagValueLength:
			return errInvalidParameter("Tag values can be at most %d characters.", maxTagValueLength)
		case strings.HasPrefix(strings.ToLower(tag.Key), "aws:"):
			return errInvalidParameter("Tag keys prefixed with 'aws:' are reserved for AWS use.")
		case seen[tag.Key]:
			return errInvalidParameter("Duplicate tag key: %s", tag.Key)
		}
		seen[tag.Key] = true
	}
	return nil
}

// validateCapacity checks the launch type or capacity provider strategy.
// The simulated clusters are Fargate-only with no default strategy, so a
// RunTask with neither falls back to EC2 and finds no container instances,
// as it would on a real cluster of this kind.
func validateCapacity(in runTaskRequest) ([]strategyItem, *apiError) {
	noInstances := errInvalidParameter("No Container Instances were found in your cluster.")
	if in.LaunchType != nil && len(in.CapacityProviderStrategy) > 0 {
		return nil, errInvalidParameter("Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.")
	}
	if len(in.CapacityProviderStrategy) == 0 {
		switch {
		case in.LaunchType == nil:
			return nil, noInstances
		case *in.LaunchType == "FARGATE":
			return nil, nil
		case *in.LaunchType == "EC2" || *in.LaunchType == "EXTERNAL" || *in.LaunchType == "MANAGED_INSTANCES":
			return nil, noInstances
		}
		return nil, errInvalidParameter("launchType must be one of EC2, FARGATE, EXTERNAL, MANAGED_INSTANCES.")
	}
	if len(in.CapacityProviderStrategy) > 20 {
		return nil, errInvalidParameter("capacityProviderStrategy can have at most 20 items.")
	}
	seen := map[string]bool{}
	bases, weights := 0, 0
	for _, item := range in.CapacityProviderStrategy {
		name := deref(item.CapacityProvider)
		if name != providerFargate && name != providerFargateSpot {
			return nil, errInvalidParameter("The specified capacity provider strategy cannot contain a capacity provider that is not associated with the cluster. Associate the capacity provider with the cluster or specify a valid capacity provider and try again.")
		}
		if seen[name] {
			return nil, errInvalidParameter("The specified capacity provider strategy cannot contain duplicate capacity providers.")
		}
		seen[name] = true
		if w := weight(item); w < 0 || w > 1000 {
			return nil, errInvalidParameter("The capacity provider weight must be between 0 and 1000.")
		}
		weights += weight(item)
		if item.Base != nil {
			if *item.Base < 0 || *item.Base > 100000 {
				return nil, errInvalidParameter("The capacity provider base must be between 0 and 100000.")
			}
			if *item.Base > 0 {
				bases++
			}
		}
	}
	if bases > 1 {
		return nil, errInvalidParameter("A base value can only be specified for one capacity provider in a capacity provider strategy.")
	}
	if weights == 0 {
		return nil, errInvalidParameter("The specified capacity provider strategy must contain at least one capacity provider with a weight greater than zero.")
	}
	return in.CapacityProviderStrategy, nil
}

// validateNetwork checks the awsvpc configuration Fargate requires.
func validateNetwork(nc *networkConfiguration) ([]string, *apiError) {
	if nc == nil || nc.AwsvpcConfiguration == nil {
		return nil, errInvalidParameter("Network Configuration must be provided when networkMode 'awsvpc' is specified.")
	}
	c := nc.AwsvpcConfiguration
	switch {
	case len(c.Subnets) == 0:
		return nil, errInvalidParameter("subnets can not be empty.")
	case len(c.Subnets) > maxSubnets:
		return nil, errInvalidParameter("subnets can have at most %d items.", maxSubnets)
	case len(c.SecurityGroups) > maxSecurityGroups:
		return nil, errInvalidParameter("securityGroups can have at most %d items.", maxSecurityGroups)
	case c.AssignPublicIP != nil && *c.AssignPublicIP != "ENABLED" && *c.AssignPublicIP != "DISABLED":
		return nil, errInvalidParameter("assignPublicIp must be ENABLED or DISABLED.")
	}
	for _, sn := range c.Subnets {
		if sn == "" {
			return nil, errInvalidParameter("subnets can not contain blank values.")
		}
	}
	return c.Subnets, nil
}

// validateOverrides checks the overrides (at most 8192 characters of JSON,
// containers of the task definition) and returns them compacted for
// DescribeTasks, with the environment overrides of the essential container.
func validateOverrides(raw json.RawMessage, def TaskDef) (json.RawMessage, []keyValue, *apiError) {
	empty := json.RawMessage(`{"containerOverrides":[],"inferenceAcceleratorOverrides":[]}`)
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return empty, nil, nil
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return nil, nil, clientError("SerializationException", "overrides is not valid JSON")
	}
	if compact.Len() > maxOverridesLength {
		return nil, nil, errInvalidParameter("Container Overrides length must be at most %d", maxOverridesLength)
	}
	var o taskOverride
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, nil, clientError("SerializationException", "overrides is not valid")
	}
	var env []keyValue
	for _, co := range o.ContainerOverrides {
		name := deref(co.Name)
		if name == "" {
			return nil, nil, errInvalidParameter("Container Overrides must specify a container name.")
		}
		if name != def.ContainerName {
			return nil, nil, errInvalidParameter("Override for container named %s is not a container in the TaskDefinition.", name)
		}
		for _, kv := range co.Environment {
			if deref(kv.Name) == "" {
				return nil, nil, errInvalidParameter("Environment variable names can not be blank.")
			}
		}
		env = append(env, co.Environment...)
	}
	return compact.Bytes(), env, nil
}
