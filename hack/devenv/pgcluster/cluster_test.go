package pgcluster_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/hack/devenv/pgcluster"
)

func TestStartStopThrowaway(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	c, err := pgcluster.Start(ctx, pgcluster.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Stop() })

	conn := connect(t, c.URL("postgres"))
	var one int
	require.NoError(t, conn.QueryRow(ctx, "SELECT 1").Scan(&one))
	require.Equal(t, 1, one)
	_, err = conn.Exec(ctx, "CREATE DATABASE scratch")
	require.NoError(t, err)

	var name string
	require.NoError(t, connect(t, c.URL("scratch")).QueryRow(ctx, "SELECT current_database()").Scan(&name))
	require.Equal(t, "scratch", name)

	require.NoError(t, c.Stop())
	require.NoError(t, c.Stop(), "Stop is idempotent")
	_, err = net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(c.Port())), time.Second)
	require.Error(t, err, "port still accepts connections after Stop")
	_, err = os.Stat(c.DataDir())
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestKeepReusesData(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "nested", "data")
	var log bytes.Buffer
	opts := pgcluster.Options{DataDir: dir, Keep: true, Log: &log}

	c := start(t, opts)
	_, err := connect(t, c.URL("postgres")).Exec(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('hello')")
	require.NoError(t, err)
	require.NoError(t, c.Stop())
	require.FileExists(t, filepath.Join(dir, "PG_VERSION"))
	require.Contains(t, log.String(), "database system is shut down")

	c = start(t, opts)
	require.Equal(t, "hello", keptValue(t, c))
	require.NoError(t, c.Stop())
}

func TestKeepSurvivesKilledServer(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	opts := pgcluster.Options{DataDir: dir, Keep: true}

	c := start(t, opts)
	// synchronous_commit=off leaves the last commits in WAL buffers for up
	// to wal_writer_delay; CHECKPOINT writes them out before the crash.
	// (Separate statements: a multi-statement string is one transaction,
	// whose commit would come after the checkpoint.)
	conn := connect(t, c.URL("postgres"))
	_, err := conn.Exec(t.Context(), "CREATE TABLE kept AS SELECT 'hello'::text AS v")
	require.NoError(t, err)
	_, err = conn.Exec(t.Context(), "CHECKPOINT")
	require.NoError(t, err)

	// SIGKILL leaves postmaster.pid behind, as a crashed run would.
	pid := postmasterPID(t, dir)
	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	require.Eventually(t, func() bool { return syscall.Kill(pid, 0) != nil }, 10*time.Second, 20*time.Millisecond)
	require.FileExists(t, filepath.Join(dir, "postmaster.pid"))

	c = start(t, opts)
	require.Equal(t, "hello", keptValue(t, c))
	require.NoError(t, c.Stop())
}

func TestRefusesNonEmptyDirWithoutKeep(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "precious"), nil, 0o600))

	_, err := pgcluster.Start(t.Context(), pgcluster.Options{DataDir: dir})
	require.ErrorContains(t, err, "not empty")
	require.FileExists(t, filepath.Join(dir, "precious"))
}

func start(t *testing.T, opts pgcluster.Options) *pgcluster.Cluster {
	t.Helper()
	c, err := pgcluster.Start(t.Context(), opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Stop() })
	return c
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func keptValue(t *testing.T, c *pgcluster.Cluster) string {
	t.Helper()
	var v string
	require.NoError(t, connect(t, c.URL("postgres")).QueryRow(t.Context(), "SELECT v FROM kept").Scan(&v))
	return v
}

func postmasterPID(t *testing.T, dataDir string) int {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	require.NoError(t, err)
	line, _, _ := strings.Cut(string(raw), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	require.NoError(t, err)
	return pid
}
