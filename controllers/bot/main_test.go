package bot_test

import (
	"testing"

	"github.com/meeboter/meeboter/pkg/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }
