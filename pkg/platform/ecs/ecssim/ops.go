package ecssim

import (
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// maxDescribe is DescribeTasks' limit on ids per call.
const maxDescribe = 100

func (s *Sim) stopTask(body []byte) (any, *apiError) {
	var in stopTaskRequest
	if aerr := decode(body, &in); aerr != nil {
		return nil, aerr
	}
	cluster, aerr := s.resolveCluster(in.Cluster)
	if aerr != nil {
		return nil, aerr
	}
	if in.Task == nil || *in.Task == "" {
		return nil, errInvalidParameter("Task can not be blank.")
	}
	t := s.lookupTask(cluster, *in.Task)
	if t == nil {
		return nil, errInvalidParameter("The referenced task was not found.")
	}
	reason := reasonUserStop
	if in.Reason != nil && *in.Reason != "" {
		reason = *in.Reason
	}
	s.recordStop(t)
	// A task already on its way down keeps its first stop code and reason;
	// StopTask just returns it.
	s.beginStop(t, types.TaskStopCodeUserInitiated, reason, ErrStopped)
	return stopTaskResponse{Task: s.view(t, false)}, nil
}

func (s *Sim) describeTasks(body []byte) (any, *apiError) {
	var in describeTasksRequest
	if aerr := decode(body, &in); aerr != nil {
		return nil, aerr
	}
	cluster, aerr := s.resolveCluster(in.Cluster)
	if aerr != nil {
		return nil, aerr
	}
	switch {
	case len(in.Tasks) == 0:
		return nil, errInvalidParameter("Tasks cannot be empty.")
	case len(in.Tasks) > maxDescribe:
		return nil, errInvalidParameter("Tasks cannot be longer than %d.", maxDescribe)
	}
	withTags := slices.Contains(in.Include, "TAGS")
	out := describeTasksResponse{Tasks: []taskView{}, Failures: []failureView{}}
	seen := map[string]bool{}
	for _, ref := range in.Tasks {
		if seen[ref] {
			continue
		}
		seen[ref] = true
		if t := s.lookupTask(cluster, ref); t != nil {
			out.Tasks = append(out.Tasks, s.view(t, withTags))
			continue
		}
		arn := ref
		if _, id, ok := s.taskRef(ref); ok && ref == id {
			arn = s.taskARN(cluster, id)
		}
		out.Failures = append(out.Failures, failureView{Arn: arn, Reason: "MISSING"})
	}
	return out, nil
}

func (s *Sim) describeClusters(body []byte) (any, *apiError) {
	var in struct {
		Clusters []string `json:"clusters"`
	}
	if aerr := decode(body, &in); aerr != nil {
		return nil, aerr
	}
	if len(in.Clusters) == 0 {
		in.Clusters = []string{defaultCluster}
	}
	clusters := []map[string]any{}
	failures := []failureView{}
	for _, ref := range in.Clusters {
		name, aerr := s.resolveCluster(&ref)
		if aerr != nil {
			arn := ref
			if !strings.Contains(ref, ":") {
				arn = s.clusterARN(ref)
			}
			failures = append(failures, failureView{Arn: arn, Reason: "MISSING"})
			continue
		}
		running, pending := 0, 0
		for _, t := range s.tasks {
			switch {
			case t.cluster != name:
			case t.lastStatus == statusRunning:
				running++
			case t.lastStatus == statusProvisioning || t.lastStatus == statusPending || t.lastStatus == statusActivating:
				pending++
			}
		}
		clusters = append(clusters, map[string]any{
			"clusterArn": s.clusterARN(name), "clusterName": name, "status": "ACTIVE",
			"registeredContainerInstancesCount": 0, "runningTasksCount": running, "pendingTasksCount": pending,
			"activeServicesCount": 0, "statistics": []any{}, "tags": []any{},
			"settings":                        []attributeView{{Name: "containerInsights", Value: "disabled"}},
			"capacityProviders":               []string{providerFargate, providerFargateSpot},
			"defaultCapacityProviderStrategy": []any{},
		})
	}
	return map[string]any{"clusters": clusters, "failures": failures}, nil
}

func (s *Sim) listClusters(body []byte) (any, *apiError) {
	var in struct {
		NextToken  *string `json:"nextToken"`
		MaxResults *int    `json:"maxResults"`
	}
	if aerr := decode(body, &in); aerr != nil {
		return nil, aerr
	}
	limit, aerr := maxResults(in.MaxResults)
	if aerr != nil {
		return nil, aerr
	}
	start := 0
	if in.NextToken != nil {
		seq, ok := parseToken(*in.NextToken, "clusters")
		if !ok {
			return nil, errInvalidParameter("Invalid nextToken.")
		}
		start = int(seq)
	}
	arns := []string{}
	for i := start; i < len(s.cfg.Clusters) && len(arns) < limit; i++ {
		arns = append(arns, s.clusterARN(s.cfg.Clusters[i]))
	}
	out := map[string]any{"clusterArns": arns}
	if next := start + len(arns); next < len(s.cfg.Clusters) {
		out["nextToken"] = makeToken(uint64(next), "clusters")
	}
	return out, nil
}

func (s *Sim) describeTaskDefinition(body []byte) (any, *apiError) {
	var in struct {
		TaskDefinition *string `json:"taskDefinition"`
	}
	if aerr := decode(body, &in); aerr != nil {
		return nil, aerr
	}
	if in.TaskDefinition == nil || *in.TaskDefinition == "" {
		return nil, errInvalidParameter("TaskDefinition can not be blank.")
	}
	d, ok := s.resolveTaskDef(*in.TaskDefinition)
	if !ok {
		return nil, clientError("ClientException", "Unable to describe task definition.")
	}
	env := []attributeView{}
	for _, k := range slices.Sorted(maps.Keys(d.Environment)) {
		env = append(env, attributeView{Name: k, Value: d.Environment[k]})
	}
	return map[string]any{"taskDefinition": map[string]any{
		"taskDefinitionArn": s.taskDefARN(d), "family": d.Family, "revision": d.Revision, "status": "ACTIVE",
		"networkMode": "awsvpc", "requiresCompatibilities": []string{"FARGATE"}, "compatibilities": []string{"EC2", "FARGATE"},
		"cpu": d.CPU, "memory": d.Memory,
		"containerDefinitions": []map[string]any{{"name": d.ContainerName, "image": d.Image, "essential": true,
			"environment": env, "cpu": 0, "portMappings": []any{}, "mountPoints": []any{}, "volumesFrom": []any{}}},
	}, "tags": []any{}}, nil
}

func (s *Sim) listTagsForResource(body []byte) (any, *apiError) {
	var in struct {
		ResourceArn *string `json:"resourceArn"`
	}
	if aerr := decode(body, &in); aerr != nil {
		return nil, aerr
	}
	if in.ResourceArn == nil || *in.ResourceArn == "" {
		return nil, errInvalidParameter("resourceArn can not be blank.")
	}
	cluster, id, ok := s.taskRef(*in.ResourceArn)
	if !ok || cluster == "" || *in.ResourceArn == id {
		return nil, errInvalidParameter("The ARN provided is invalid.")
	}
	t := s.lookupTask(cluster, *in.ResourceArn)
	if t == nil {
		return nil, errInvalidParameter("The specified task is stopped.")
	}
	return map[string]any{"tags": append([]Tag{}, t.tags...)}, nil
}
