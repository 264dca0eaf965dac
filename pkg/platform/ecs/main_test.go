package ecs_test

import (
	"testing"

	"github.com/meeboter/meeboter/hack/devenv/pgtest"
)

// The controller tests need Postgres; the driver's own tests do not mind it.
func TestMain(m *testing.M) { pgtest.Main(m) }
