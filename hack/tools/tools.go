//go:build tools

// Package tools pins the versions of developer tools (linters) in a module of
// their own, so their large dependency graphs never leak into the main
// module's go.mod and a plain `go build` of the pinned path reproduces them.
package tools

import (
	_ "github.com/golangci/golangci-lint/v2/cmd/golangci-lint"
)
