package pgcluster

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestHighestBinDirSkipsClientOnlyAndComparesNumerically(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	fakeBin(t, root, "9.6", "initdb", "postgres")
	fakeBin(t, root, "15", "initdb", "postgres")
	fakeBin(t, root, "16", "psql") // postgresql-client-16 only
	fakeBin(t, root, "notaversion", "initdb", "postgres")

	require.Equal(t, filepath.Join(root, "15", "bin"), highestBinDir(root))
}

func TestHighestBinDirMissingRoot(t *testing.T) {
	t.Parallel()
	require.Empty(t, highestBinDir(filepath.Join(t.TempDir(), "absent")))
}

func TestFindBinDirHonoursEnv(t *testing.T) {
	// t.Setenv forbids t.Parallel: the environment is process-wide.
	root := t.TempDir()
	fakeBin(t, root, "custom", "initdb", "postgres")
	dir := filepath.Join(root, "custom", "bin")

	t.Setenv(BinDirEnv, dir)
	got, err := FindBinDir()
	require.NoError(t, err)
	require.Equal(t, dir, got)

	t.Setenv(BinDirEnv, root)
	_, err = FindBinDir()
	require.ErrorContains(t, err, BinDirEnv)
}

func fakeBin(t *testing.T, root, version string, names ...string) {
	t.Helper()
	dir := filepath.Join(root, version, "bin")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	for _, name := range names {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), 0o755))
	}
}
