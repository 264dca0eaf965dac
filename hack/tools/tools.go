//go:build tools

// Package tools pins the versions of developer tools (the linter, the S3
// server that tests and `make run` start) in a module of their own, so their
// large dependency graphs never leak into the main module's go.mod and a
// plain `go build` of the pinned path reproduces them.
package tools

import (
	_ "github.com/golangci/golangci-lint/v2/cmd/golangci-lint"
	_ "github.com/versity/versitygw/cmd/versitygw"
)
