package pgtest_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/meeboter/meeboter/hack/devenv/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestServerURL(t *testing.T) {
	t.Parallel()
	var one int
	require.NoError(t, connect(t, pgtest.ServerURL()).QueryRow(t.Context(), "SELECT 1").Scan(&one))
	require.Equal(t, 1, one)
}

func TestNewDatabaseIsolated(t *testing.T) {
	t.Parallel()
	a, b := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	require.NotEqual(t, a, b)

	_, err := connect(t, a).Exec(t.Context(), "CREATE TABLE only_in_a (id int)")
	require.NoError(t, err)
	require.Equal(t, 0, countTables(t, b, "only_in_a"))
}

func TestNewDatabaseDroppedOnCleanup(t *testing.T) {
	t.Parallel()
	var name string
	t.Run("user", func(t *testing.T) {
		conn := connect(t, pgtest.NewDatabase(t))
		// A connection still open at cleanup must not block the drop.
		require.NoError(t, conn.QueryRow(t.Context(), "SELECT current_database()").Scan(&name))
	})
	require.NotEmpty(t, name)
	var exists bool
	require.NoError(t, connect(t, pgtest.ServerURL()).QueryRow(t.Context(),
		"SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)", name).Scan(&exists))
	require.False(t, exists, "database %s outlived its test", name)
}

func TestTemplateBuiltOnceAndClonedPerTest(t *testing.T) {
	t.Parallel()
	name := templateName(t)
	var builds atomic.Int32
	setup := func(ctx context.Context, url string) error {
		builds.Add(1)
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, "CREATE TABLE seeded (v text); INSERT INTO seeded VALUES ('seed')")
		return err
	}
	for i := range 8 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			require.NoError(t, pgtest.EnsureTemplate(name, setup))
			conn := connect(t, pgtest.NewDatabaseFrom(t, name))
			// Each clone starts from the seed alone, whatever its siblings do.
			_, err := conn.Exec(t.Context(), "INSERT INTO seeded VALUES ($1)", fmt.Sprint(i))
			require.NoError(t, err)
			var n int
			require.NoError(t, conn.QueryRow(t.Context(), "SELECT count(*) FROM seeded").Scan(&n))
			require.Equal(t, 2, n)
		})
	}
	t.Cleanup(func() { require.Equal(t, int32(1), builds.Load()) })
}

func TestTemplateSurvivesLeakedConnection(t *testing.T) {
	t.Parallel()
	name := templateName(t)
	require.NoError(t, pgtest.EnsureTemplate(name, func(ctx context.Context, url string) error {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return err
		}
		t.Cleanup(func() { _ = conn.Close(context.Background()) })
		_, err = conn.Exec(ctx, "CREATE TABLE leaked (id int)")
		return err // conn deliberately left open
	}))
	require.Equal(t, 1, countTables(t, pgtest.NewDatabaseFrom(t, name), "leaked"))
}

func TestTemplateSetupErrorIsSticky(t *testing.T) {
	t.Parallel()
	name := templateName(t)
	boom := errors.New("boom")
	calls := 0
	setup := func(context.Context, string) error { calls++; return boom }

	require.ErrorIs(t, pgtest.EnsureTemplate(name, setup), boom)
	require.ErrorIs(t, pgtest.EnsureTemplate(name, setup), boom)
	require.Equal(t, 1, calls)
}

// templateRuns keeps template names apart across -count runs, which share
// the process and so the templates built once in it.
var templateRuns atomic.Int64

func templateName(t *testing.T) string {
	return fmt.Sprintf("%s_%d", t.Name(), templateRuns.Add(1))
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func countTables(t *testing.T, url, name string) int {
	t.Helper()
	var n int
	require.NoError(t, connect(t, url).QueryRow(t.Context(),
		"SELECT count(*) FROM pg_tables WHERE tablename = $1", name).Scan(&n))
	return n
}
