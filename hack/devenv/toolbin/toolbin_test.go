package toolbin

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestModuleRootSkipsOtherModules(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "go.mod"), "// comment\n\nmodule github.com/meeboter/meeboter\n\ngo 1.26\n")
	tools := filepath.Join(root, "hack", "tools")
	writeFile(t, filepath.Join(tools, "go.mod"), "module github.com/meeboter/meeboter/hack/tools\n")
	deep := filepath.Join(tools, "sub")
	require.NoError(t, os.MkdirAll(deep, 0o755))

	got, err := moduleRoot(deep, "TOOL_BIN")
	require.NoError(t, err)
	require.Equal(t, root, got)

	_, err = moduleRoot(t.TempDir(), "TOOL_BIN")
	require.ErrorContains(t, err, "TOOL_BIN")
}

func TestFreshComparesWithGoSum(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bin, sum := filepath.Join(dir, "versitygw"), filepath.Join(dir, "go.sum")
	require.False(t, fresh(bin, sum), "missing binary")

	writeFile(t, bin, "")
	writeFile(t, sum, "")
	old := time.Now().Add(-time.Hour)
	require.NoError(t, os.Chtimes(bin, old, old))
	require.False(t, fresh(bin, sum), "binary older than go.sum")

	require.NoError(t, os.Chtimes(sum, old.Add(-time.Hour), old.Add(-time.Hour)))
	require.True(t, fresh(bin, sum))
}

func TestPathHonoursEnv(t *testing.T) {
	// t.Setenv forbids t.Parallel: the environment is process-wide.
	bin := filepath.Join(t.TempDir(), "versitygw")
	writeFile(t, bin, "#!/bin/sh\n")
	require.NoError(t, os.Chmod(bin, 0o755))
	tool := Tool{Name: "versitygw", Env: "VERSITYGW_TEST_BIN"}
	t.Setenv(tool.Env, bin)
	got, err := Path(t.Context(), tool)
	require.NoError(t, err)
	require.Equal(t, bin, got)

	t.Setenv(tool.Env, filepath.Dir(bin))
	_, err = Path(t.Context(), tool)
	require.ErrorContains(t, err, tool.Env)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, []byte(content), 0o644))
}
