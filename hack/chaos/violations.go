package main

import (
	"fmt"
	"slices"
	"sync"
)

// violations collects what broke an invariant, by check, with examples.
type violations struct {
	mu     sync.Mutex
	byKind map[string][]string
}

// maxExamples bounds the examples kept per kind; the count stays exact.
const maxExamples = 20

func newViolations() *violations { return &violations{byKind: map[string][]string{}} }

// add records one violation of kind.
func (v *violations) add(kind, format string, args ...any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.byKind[kind] = append(v.byKind[kind], fmt.Sprintf(format, args...))
}

// list is every violation as "kind: example", kinds sorted, at most
// maxExamples per kind plus a line counting the rest.
func (v *violations) list() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	kinds := make([]string, 0, len(v.byKind))
	for k := range v.byKind {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	out := []string{}
	for _, k := range kinds {
		all := v.byKind[k]
		for _, e := range all[:min(len(all), maxExamples)] {
			out = append(out, k+": "+e)
		}
		if len(all) > maxExamples {
			out = append(out, fmt.Sprintf("%s: … and %d more", k, len(all)-maxExamples))
		}
	}
	return out
}
