package ecssim

import (
	"encoding/base64"
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
)

// maxListResults is the largest (and default) ListTasks/ListClusters page.
const maxListResults = 100

// listFilter is a ListTasks query.
type listFilter struct {
	cluster, family, startedBy, desired, launchType string
	service, containerInstance                      bool // set: nothing matches on Fargate
}

// key identifies the query, so a nextToken only continues the listing it
// came from.
func (f listFilter) key() string {
	return strings.Join([]string{"tasks", f.cluster, f.family, f.startedBy, f.desired, f.launchType,
		strconv.FormatBool(f.service), strconv.FormatBool(f.containerInstance)}, "\x00")
}

func (s *Sim) listTasks(body []byte) (any, *apiError) {
	var in listTasksRequest
	if aerr := decode(body, &in); aerr != nil {
		return nil, aerr
	}
	f, limit, aerr := s.listQuery(in)
	if aerr != nil {
		return nil, aerr
	}
	start := 0
	if in.NextToken != nil {
		after, ok := parseToken(*in.NextToken, f.key())
		if !ok {
			return nil, errInvalidParameter("Invalid nextToken.")
		}
		start = sort.Search(len(s.all), func(i int) bool { return s.all[i].seq > after })
	}
	out := listTasksResponse{TaskArns: []string{}}
	var last uint64
	for i := start; i < len(s.all); i++ {
		t := s.all[i]
		if !s.matches(f, t) {
			continue
		}
		if len(out.TaskArns) == limit {
			out.NextToken = makeToken(last, f.key())
			break
		}
		out.TaskArns = append(out.TaskArns, t.arn)
		last = t.seq
	}
	return out, nil
}

// listQuery validates a ListTasks request. startedBy must be the only
// filter besides cluster and desiredStatus, as the API reference says.
func (s *Sim) listQuery(in listTasksRequest) (listFilter, int, *apiError) {
	var f listFilter
	cluster, aerr := s.resolveCluster(in.Cluster)
	if aerr != nil {
		return f, 0, aerr
	}
	limit, aerr := maxResults(in.MaxResults)
	if aerr != nil {
		return f, 0, aerr
	}
	f = listFilter{cluster: cluster, family: deref(in.Family), startedBy: deref(in.StartedBy),
		desired: "RUNNING", launchType: deref(in.LaunchType),
		service: deref(in.ServiceName) != "", containerInstance: deref(in.ContainerInstance) != ""}
	if in.DesiredStatus != nil {
		f.desired = *in.DesiredStatus
	}
	switch f.desired {
	case "RUNNING", "PENDING", "STOPPED":
	default:
		return f, 0, errInvalidParameter("desiredStatus must be one of RUNNING, PENDING, STOPPED.")
	}
	if f.startedBy != "" && (f.family != "" || f.launchType != "" || f.service || f.containerInstance) {
		return f, 0, errInvalidParameter("startedBy may not be specified with any other filter except cluster and desiredStatus.")
	}
	return f, limit, nil
}

// matches reports whether t is in the listing f asks for.
func (s *Sim) matches(f listFilter, t *task) bool {
	if t.cluster != f.cluster || !s.visible(t) || f.service || f.containerInstance {
		return false
	}
	switch {
	case f.desired == "PENDING": // ECS never sets it
		return false
	case t.desiredStatus != f.desired:
		return false
	case f.family != "" && t.def.Family != f.family:
		return false
	case f.startedBy != "" && t.startedBy != f.startedBy:
		return false
	case f.launchType != "" && f.launchType != "FARGATE":
		return false
	}
	return true
}

func maxResults(v *int) (int, *apiError) {
	if v == nil {
		return maxListResults, nil
	}
	if *v < 1 || *v > maxListResults {
		return 0, errInvalidParameter("maxResults must be between 1 and %d.", maxListResults)
	}
	return *v, nil
}

// makeToken is an opaque nextToken: a position and a hash of the query.
func makeToken(pos uint64, query string) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%d.%x", pos, queryHash(query)))
}

func parseToken(tok, query string) (uint64, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, false
	}
	posText, hash, ok := strings.Cut(string(raw), ".")
	if !ok || hash != fmt.Sprintf("%x", queryHash(query)) {
		return 0, false
	}
	pos, err := strconv.ParseUint(posText, 10, 64)
	return pos, err == nil
}

func queryHash(q string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(q))
	return h.Sum32()
}
