package api

import (
	"testing"

	"github.com/meeboter/meeboter/hack/devenv/pgtest"
)

// TestMain runs the package's tests against a PostgreSQL server: the one
// TEST_DATABASE_URL or DATABASE_URL names, else a throwaway cluster.
func TestMain(m *testing.M) { pgtest.Main(m) }
