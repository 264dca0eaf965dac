package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/meeboter/meeboter/hack/devenv/pgcluster"
)

// serverEnvs are consulted in order for an existing server to use.
var serverEnvs = []string{"TEST_DATABASE_URL", "DATABASE_URL"}

// adminURL is set by Main before any test runs and never changes after.
var adminURL string

// Main runs the tests of a package against a PostgreSQL server and exits
// with their status. Call it from TestMain.
func Main(m *testing.M) {
	os.Exit(Run(m))
}

// Run is Main for a TestMain with its own cleanup: it returns the exit code.
func Run(m *testing.M) int {
	serverURL, stop, err := server()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
		return 1
	}
	adminURL = serverURL
	code := m.Run()
	// Templates are left behind on purpose until now: every test may clone
	// them. On a shared server they would otherwise pile up.
	if err := dropTemplates(); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
	}
	if err := stop(); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest: stop server:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// server returns the admin URL of the server to use and how to release it.
func server() (string, func() error, error) {
	for _, env := range serverEnvs {
		if given := os.Getenv(env); given != "" {
			if _, err := withDatabase(given, "postgres"); err != nil {
				return "", nil, fmt.Errorf("%s: %w", env, err)
			}
			return given, func() error { return nil }, nil
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := pgcluster.Start(ctx, pgcluster.Options{})
	if err != nil {
		return "", nil, fmt.Errorf("no %s set, and starting a cluster failed: %w",
			strings.Join(serverEnvs, " or "), err)
	}
	return c.URL("postgres"), c.Stop, nil
}

// ServerURL returns the URL of the server's admin connection, for tests of
// server-wide behavior. It is empty unless Main is running the tests.
func ServerURL() string { return adminURL }

// NewDatabase creates an empty database for t, drops it when t ends (ending
// any connections still open to it), and returns its URL.
func NewDatabase(t testing.TB) string {
	t.Helper()
	return newDatabase(t, "")
}

func newDatabase(t testing.TB, template string) string {
	t.Helper()
	if adminURL == "" {
		t.Fatal("pgtest: no server: call pgtest.Main(m) from TestMain")
	}
	name := uniqueName("t", t.Name())
	dbURL, err := withDatabase(adminURL, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := createDatabase(t.Context(), name, template); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		// t.Context is already canceled while cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := dropDatabase(ctx, name); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return dbURL
}

func createDatabase(ctx context.Context, name, template string) error {
	stmt := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if template != "" {
		// Clones need not be serialized: CREATE DATABASE takes only a
		// share lock on its template. What Postgres refuses is copying a
		// template some session is connected to, which seal rules out.
		stmt += " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	}
	return admin(ctx, stmt)
}

func dropDatabase(ctx context.Context, name string) error {
	return admin(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
}

// admin runs one statement on a connection of its own: CREATE and DROP
// DATABASE cannot run inside a transaction, and a short-lived connection
// never sits in a database that someone wants to clone or drop.
func admin(ctx context.Context, stmt string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("%s: %w", stmt, err)
	}
	return nil
}

// uniqueName makes a database name that is readable in pg_stat_activity yet
// unique across test binaries sharing one server. It stays well within
// Postgres' 63-byte identifier limit.
func uniqueName(prefix, hint string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(hint) {
		if b.Len() == 32 {
			break
		}
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	random := make([]byte, 6)
	_, _ = rand.Read(random) // never fails (crypto/rand panics instead).
	return prefix + "_" + b.String() + "_" + hex.EncodeToString(random)
}

// withDatabase returns base with its database replaced by name, keeping
// credentials and parameters.
func withDatabase(base, name string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("pgtest: server must be given as a postgres:// URL, not %q", base)
	}
	u.Path, u.RawPath = "/"+name, ""
	return u.String(), nil
}
