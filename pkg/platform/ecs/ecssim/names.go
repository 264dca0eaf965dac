package ecssim

import (
	"cmp"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

const (
	lowerHex   = "0123456789abcdef"
	upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	alnum      = "abcdefghijklmnopqrstuvwxyz" + upperAlnum
)

func randomString(rng *rand.Rand, n int, alphabet string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}

// newTaskID is a task id as ECS mints them: 32 lowercase hex digits.
func (s *Sim) newTaskID() string { return randomString(s.rng, 32, lowerHex) }

// uuid is a random RFC 4122 version 4 uuid.
func (s *Sim) uuid() string {
	h := []byte(randomString(s.rng, 32, lowerHex))
	h[12] = '4'
	h[16] = "89ab"[s.rng.IntN(4)]
	return string(h[:8]) + "-" + string(h[8:12]) + "-" + string(h[12:16]) + "-" + string(h[16:20]) + "-" + string(h[20:])
}

func (s *Sim) arnPrefix() string { return "arn:aws:ecs:" + s.cfg.Region + ":" + s.cfg.Account + ":" }

func (s *Sim) clusterARN(name string) string { return s.arnPrefix() + "cluster/" + name }

// taskARN is the long ARN format, the only one new accounts get.
func (s *Sim) taskARN(cluster, id string) string {
	return s.arnPrefix() + "task/" + cluster + "/" + id
}

func (s *Sim) taskDefARN(d TaskDef) string {
	return s.arnPrefix() + "task-definition/" + d.Family + ":" + strconv.Itoa(d.Revision)
}

// resolveCluster maps a request's cluster (empty, a name or an ARN of this
// account and region) to a cluster name.
func (s *Sim) resolveCluster(ref *string) (string, *apiError) {
	name := defaultCluster
	if ref != nil && *ref != "" {
		name = *ref
		if rest, ok := strings.CutPrefix(name, s.arnPrefix()+"cluster/"); ok {
			name = rest
		} else if strings.HasPrefix(name, "arn:") {
			return "", errClusterNotFound()
		}
	}
	if !slices.Contains(s.cfg.Clusters, name) {
		return "", errClusterNotFound()
	}
	return name, nil
}

// taskRef parses a task reference: a bare id, or a task ARN in the long
// (…:task/<cluster>/<id>) or old (…:task/<id>) format. cluster is "" when
// the reference does not name one.
func (s *Sim) taskRef(ref string) (cluster, id string, ok bool) {
	if !strings.HasPrefix(ref, "arn:") {
		return "", ref, ref != "" && !strings.Contains(ref, "/")
	}
	rest, found := strings.CutPrefix(ref, s.arnPrefix()+"task/")
	if !found {
		return "", "", false
	}
	if c, i, two := strings.Cut(rest, "/"); two {
		return c, i, c != "" && i != "" && !strings.Contains(i, "/")
	}
	return "", rest, rest != ""
}

// lookupTask finds a task of cluster that a client may see now: known,
// in the cluster, and past the consistency lag.
func (s *Sim) lookupTask(cluster, ref string) *task {
	c, id, ok := s.taskRef(ref)
	if !ok || (c != "" && c != cluster) {
		return nil
	}
	t := s.tasks[id]
	if t == nil || t.cluster != cluster || !s.visible(t) {
		return nil
	}
	return t
}

// normaliseTaskDefs fills in a TaskDef's zero fields from its key and the
// defaults.
func normaliseTaskDefs(in map[string]TaskDef) []TaskDef {
	out := make([]TaskDef, 0, len(in))
	for _, key := range slices.Sorted(maps.Keys(in)) {
		d := in[key]
		family, rev, hasRev := strings.Cut(key, ":")
		if d.Family == "" {
			d.Family = family
		}
		if d.Revision <= 0 && hasRev {
			d.Revision, _ = strconv.Atoi(rev)
		}
		if d.Revision <= 0 {
			d.Revision = 1
		}
		if d.ContainerName == "" {
			d.ContainerName = d.Family
		}
		if d.Image == "" {
			d.Image = d.Family + ":latest"
		}
		if d.CPU == "" {
			d.CPU = "1024"
		}
		if d.Memory == "" {
			d.Memory = "2048"
		}
		d.Environment = maps.Clone(d.Environment)
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b TaskDef) int {
		return cmp.Or(strings.Compare(a.Family, b.Family), cmp.Compare(a.Revision, b.Revision))
	})
	return out
}

func cloneDefs(defs []TaskDef) []TaskDef {
	out := slices.Clone(defs)
	for i := range out {
		out[i].Environment = maps.Clone(out[i].Environment)
	}
	return out
}

// resolveTaskDef maps "family", "family:revision" or a task definition ARN
// to a registered revision; a bare family means its latest revision.
func (s *Sim) resolveTaskDef(ref string) (TaskDef, bool) {
	if rest, ok := strings.CutPrefix(ref, s.arnPrefix()+"task-definition/"); ok {
		if !strings.Contains(rest, ":") {
			return TaskDef{}, false // an ARN always carries the revision
		}
		ref = rest
	}
	family, rev, hasRev := strings.Cut(ref, ":")
	var found *TaskDef
	for i := range s.defs {
		d := &s.defs[i]
		if d.Family != family {
			continue
		}
		if hasRev && strconv.Itoa(d.Revision) != rev {
			continue
		}
		found = d // sorted by revision: the last match is the latest
	}
	if found == nil {
		return TaskDef{}, false
	}
	return *found, true
}
