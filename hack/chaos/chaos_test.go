package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestChaosShort is `go run ./hack/chaos --short` as a test, so `make
// test` runs it: about 100 bots on the real binaries, two replica kills,
// one fault window, every check. The binaries are built without the race
// detector; only the runner runs under it.
func TestChaosShort(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos run: run without -short")
	}
	bin := t.TempDir()
	_, err := buildBinaries(t.Context(), bin)
	require.NoError(t, err)
	o := shortOptions()
	o.seed = 1
	o.binDir = bin
	o.out = filepath.Join(t.TempDir(), "chaos.json")
	o.workDir = t.TempDir()
	out := &syncBuffer{}
	rep, err := run(t.Context(), o, out)
	t.Log("\n" + out.String())
	require.NoError(t, err)
	if len(rep.Violations) > 0 {
		keepLogs(t, o.workDir)
	}
	require.Empty(t, rep.Violations)
	require.GreaterOrEqual(t, rep.Accepted, 95)
	require.Equal(t, 2, rep.Kills)

	raw, err := os.ReadFile(o.out)
	require.NoError(t, err)
	var fields map[string]any
	require.NoError(t, json.Unmarshal(raw, &fields))
	for _, k := range []string{"accepted", "done", "fatal_by_reason", "stuck", "duplicate_workloads", "leaked_workloads",
		"deleted_during_failed_list", "lost_creates", "fatal_from_transient_faults", "kills", "recovery_p50_seconds",
		"recovery_p99_seconds", "postgres_outage_recovery_seconds", "leaders_at_end"} {
		require.Contains(t, fields, k)
	}
}

// keepLogs copies the run's logs out of the test's temporary directory.
func keepLogs(t *testing.T, dir string) {
	dst, err := os.MkdirTemp("", "meeboter-chaos-failed-")
	if err != nil {
		return
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "logs", "*"))
	for _, l := range logs {
		if b, err := os.ReadFile(l); err == nil {
			_ = os.WriteFile(filepath.Join(dst, filepath.Base(l)), b, 0o600)
		}
	}
	t.Logf("logs of the failed run: %s", dst)
}

// syncBuffer is a bytes.Buffer the run's goroutines may write at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
