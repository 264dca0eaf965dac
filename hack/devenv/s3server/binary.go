package s3server

import (
	"context"

	"github.com/meeboter/meeboter/hack/devenv/toolbin"
)

// BinaryEnv names the environment variable that points at a versitygw binary
// to use instead of the one built from hack/tools.
const BinaryEnv = "VERSITYGW_BIN"

// Versitygw is the S3 server, pinned in hack/tools.
var Versitygw = toolbin.Tool{Name: "versitygw", Pkg: "github.com/versity/versitygw/cmd/versitygw",
	Module: "hack/tools", Env: BinaryEnv}

// Binary returns the path of the versitygw binary (toolbin.Path).
func Binary(ctx context.Context) (string, error) { return toolbin.Path(ctx, Versitygw) }
