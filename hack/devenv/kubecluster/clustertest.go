package kubecluster

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/meeboter/meeboter/hack/devenv/proctail"
)

// StartT starts a cluster for t, stopped when t ends; on failure the end of
// its output is logged.
func StartT(t testing.TB) *Cluster {
	t.Helper()
	log := &proctail.Tail{}
	c, err := Start(t.Context(), Config{Dir: t.TempDir(), Log: log})
	if err != nil {
		t.Fatalf("kubecluster: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("control plane output (tail):\n%s", log.String())
		}
		c.Stop()
	})
	return c
}

// Shared is one cluster for a whole test binary, started on first use;
// TestMain calls Stop. Tests keep apart by namespace.
type Shared struct {
	once sync.Once
	c    *Cluster
	err  error
	dir  string
	log  proctail.Tail
}

// Get starts the cluster once.
func (s *Shared) Get(t testing.TB) *Cluster {
	t.Helper()
	s.once.Do(func() {
		if s.dir, s.err = os.MkdirTemp("", "kubecluster-"); s.err == nil {
			s.c, s.err = Start(context.Background(), Config{Dir: s.dir, Log: &s.log})
		}
	})
	if s.err != nil {
		t.Fatalf("kubecluster: %v\n%s", s.err, s.log.String())
	}
	return s.c
}

// Stop stops the cluster if it was started, and removes its files.
func (s *Shared) Stop() {
	if s.c != nil {
		s.c.Stop()
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}
