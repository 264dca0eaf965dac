package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// binaries are the programs a run starts, built without the race detector
// so they run at full speed even when the runner is a -race test.
type binaries struct {
	meeboter, bot, sim string
}

func binariesIn(dir string) binaries {
	return binaries{meeboter: filepath.Join(dir, "meeboter"), bot: filepath.Join(dir, "meeboter-bot"),
		sim: filepath.Join(dir, "sim")}
}

// buildBinaries builds meeboter, meeboter-bot and sim into dir from the
// module this runner belongs to.
func buildBinaries(ctx context.Context, dir string) (binaries, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return binaries{}, err
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+string(os.PathSeparator),
		"./cmd/meeboter", "./cmd/meeboter-bot", "./hack/sim")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return binaries{}, fmt.Errorf("go build: %w\n%s", err, out.String())
	}
	return binariesIn(dir), nil
}

// moduleRoot is the directory of the main module's go.mod, wherever the
// runner was started from inside it.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside the meeboter module (go env GOMOD is %q)", gomod)
	}
	return filepath.Dir(gomod), nil
}
