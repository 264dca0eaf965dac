package operatorui_test

import (
	"testing"

	"github.com/meeboter/meeboter/hack/devenv/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
