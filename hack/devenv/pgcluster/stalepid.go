package pgcluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"
)

// clearStalePID handles the postmaster.pid a killed run leaves in a kept data
// dir. Postgres copes with it when that pid is dead, and then also checks that
// no orphaned backend still uses the old shared memory, so the file is left in
// place for that. Two cases need help:
//   - the pid belongs to a postmaster of this very directory that is still
//     shutting down (the parent-death signal of a killed run) — wait for it;
//   - the pid was reused by an unrelated process that the server user may
//     signal (the system cluster, say); postgres would take that for a live
//     postmaster and refuse to start, so the file is removed.
func clearStalePID(ctx context.Context, dataDir string) error {
	// Without /proc a live postmaster cannot be told from a reused pid, and
	// removing the file would defeat postgres' own interlock: leave it to
	// postgres.
	if runtime.GOOS != "linux" {
		return nil
	}
	pidFile := filepath.Join(dataDir, "postmaster.pid")
	data, err := os.ReadFile(pidFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	pid, err := strconv.Atoi(string(bytes.TrimSpace(line)))
	if err != nil || pid <= 0 {
		return nil // not ours to interpret; postgres will report it.
	}
	if err := waitPostmasterGone(ctx, pid, dataDir); err != nil {
		return err
	}
	if _, alive := procArgs(pid); !alive {
		return nil
	}
	if err := os.Remove(pidFile); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("pgcluster: remove stale %s: %w", pidFile, err)
	}
	return nil
}

// waitPostmasterGone waits while pid is a postmaster serving dataDir.
func waitPostmasterGone(ctx context.Context, pid int, dataDir string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for {
		args, alive := procArgs(pid)
		if !alive || !servesDir(args, dataDir) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pgcluster: %s is in use by running postgres (pid %d)", dataDir, pid)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// procArgs returns the command line of pid and whether that process exists.
func procArgs(pid int) ([][]byte, bool) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return nil, false
	}
	return bytes.Split(bytes.TrimRight(raw, "\x00"), []byte{0}), true
}

// servesDir reports whether args are those of a postgres started with
// -D dataDir. The postmaster keeps its real argv (only its children rewrite
// theirs for ps), so this is reliable for the pid in postmaster.pid.
func servesDir(args [][]byte, dataDir string) bool {
	if len(args) == 0 || filepath.Base(string(args[0])) != "postgres" {
		return false
	}
	for i := 1; i+1 < len(args); i++ {
		if string(args[i]) == "-D" && string(args[i+1]) == dataDir {
			return true
		}
	}
	return false
}
