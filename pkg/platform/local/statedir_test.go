package local

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNewRefusesAStateDirOthersCanWrite(t *testing.T) {
	t.Parallel()
	for _, mode := range []os.FileMode{0o777, 0o770, 0o702, 0o1777} {
		dir := filepath.Join(t.TempDir(), "state")
		require.NoError(t, os.Mkdir(dir, 0o700))
		require.NoError(t, os.Chmod(dir, mode))
		_, err := New(Config{StateDir: dir, Command: []string{"true"}})
		require.ErrorContains(t, err, "writable by group or others", "mode %04o", mode)
	}
	dir := filepath.Join(t.TempDir(), "state")
	require.NoError(t, os.Mkdir(dir, 0o755))
	_, err := New(Config{StateDir: dir, Command: []string{"true"}})
	require.NoError(t, err, "readable by others is fine")
}

func TestNewRefusesAStateDirOfAnotherUser(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("giving a directory to another user needs root")
	}
	dir := filepath.Join(t.TempDir(), "state")
	require.NoError(t, os.Mkdir(dir, 0o700))
	require.NoError(t, os.Chown(dir, 65534, 65534))
	_, err := New(Config{StateDir: dir, Command: []string{"true"}})
	require.ErrorContains(t, err, "owned by uid 65534")
}

// TestCreateDoesNotFollowALogSymlink: a link planted where a workload's log
// goes fails the create instead of making us append to its target.
func TestCreateDoesNotFollowALogSymlink(t *testing.T) {
	t.Parallel()
	h := newHarness(t, Config{})
	target := filepath.Join(t.TempDir(), "victim")
	require.NoError(t, os.WriteFile(target, []byte("keep\n"), 0o600))
	w := workload("meeboter-symlink-1", botRun)
	require.NoError(t, os.Symlink(target, filepath.Join(h.dir, w.Name+".log")))

	_, err := h.p.Create(context.Background(), w)
	require.ErrorContains(t, err, "symlink")
	b, err := os.ReadFile(target)
	require.NoError(t, err)
	require.Equal(t, "keep\n", string(b), "the link's target is untouched")
	procs, err := scanProcs(h.p.instance)
	require.NoError(t, err)
	require.Empty(t, procs, "nothing started")
}

func TestWriteJSONDoesNotFollowATmpSymlink(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "victim")
	require.NoError(t, os.WriteFile(target, []byte("keep"), 0o600))
	path := filepath.Join(dir, "w.json")
	require.NoError(t, os.Symlink(target, path+".tmp"))
	require.ErrorContains(t, writeJSON(path, record{PID: 1}), "symlink")
	b, err := os.ReadFile(target)
	require.NoError(t, err)
	require.Equal(t, "keep", string(b))
}
