package pgcluster

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// A kept dir whose postmaster.pid names a pid since reused by another process
// of the server user must still start: postgres alone would refuse.
func TestStartIgnoresPIDReusedByServerUser(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	opts := Options{DataDir: dir, Keep: true}
	c, err := Start(t.Context(), opts)
	require.NoError(t, err)
	require.NoError(t, c.Stop())

	cred, err := serverCredential()
	require.NoError(t, err)
	impostor := exec.Command("sleep", "60")
	impostor.SysProcAttr = sysProcAttr(cred)
	require.NoError(t, impostor.Start())
	t.Cleanup(func() { _ = impostor.Process.Kill(); _ = impostor.Wait() })
	stale := strconv.Itoa(impostor.Process.Pid) + "\n" + dir + "\n"
	pidFile := filepath.Join(dir, "postmaster.pid")
	require.NoError(t, os.WriteFile(pidFile, []byte(stale), 0o600))
	if cred != nil {
		require.NoError(t, os.Chown(pidFile, int(cred.Uid), int(cred.Gid)))
	}

	c, err = Start(t.Context(), opts)
	require.NoError(t, err)
	require.NoError(t, c.Stop())
}

func TestServesDir(t *testing.T) {
	t.Parallel()
	args := func(s ...string) [][]byte {
		out := make([][]byte, len(s))
		for i := range s {
			out[i] = []byte(s[i])
		}
		return out
	}
	require.True(t, servesDir(args("/usr/lib/postgresql/15/bin/postgres", "-D", "/d", "-p", "1"), "/d"))
	require.False(t, servesDir(args("/usr/lib/postgresql/15/bin/postgres", "-D", "/other"), "/d"))
	require.False(t, servesDir(args("sleep", "-D", "/d"), "/d"))
	require.False(t, servesDir(nil, "/d"))
}
