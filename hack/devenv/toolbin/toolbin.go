package s3server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// BinaryEnv names the environment variable that points at a versitygw binary
// to use instead of the one built from hack/tools.
const BinaryEnv = "VERSITYGW_BIN"

const (
	modulePath   = "github.com/meeboter/meeboter"
	versitygwPkg = "github.com/versity/versitygw/cmd/versitygw"
)

// binarySem serialises Binary within a process, and caches its result: many
// parallel tests call it at once and only one of them should build. Unlike a
// mutex it can be given up when the caller's context ends.
var (
	binarySem  = make(chan struct{}, 1)
	binaryPath string // guarded by binarySem
)

// Binary returns the path of the versitygw binary: $VERSITYGW_BIN if set;
// else <module root>/bin/versitygw if it exists and is newer than
// hack/tools/go.sum (which `make bin/versitygw` guarantees); else it builds
// it there from the version pinned in hack/tools. The build runs under an
// exclusive lock on bin/.versitygw.lock, because `go test ./...` runs the
// test binaries of several packages at once and each would build otherwise.
// The module root is found by walking up from the working directory.
func Binary(ctx context.Context) (string, error) {
	if path := os.Getenv(BinaryEnv); path != "" {
		if err := checkExecutable(path); err != nil {
			return "", fmt.Errorf("s3server: %s=%s: %w", BinaryEnv, path, err)
		}
		return path, nil
	}
	select {
	case binarySem <- struct{}{}:
	case <-ctx.Done():
		return "", fmt.Errorf("s3server: waiting for the versitygw build: %w", ctx.Err())
	}
	defer func() { <-binarySem }()
	if binaryPath != "" {
		return binaryPath, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("s3server: %w", err)
	}
	root, err := moduleRoot(wd)
	if err != nil {
		return "", err
	}
	path, err := buildBinary(ctx, root)
	if err != nil {
		return "", err
	}
	binaryPath = path
	return path, nil
}

func buildBinary(ctx context.Context, root string) (string, error) {
	binDir := filepath.Join(root, "bin")
	bin := filepath.Join(binDir, "versitygw")
	goSum := filepath.Join(root, "hack", "tools", "go.sum")
	if fresh(bin, goSum) {
		return bin, nil
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", fmt.Errorf("s3server: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(binDir, ".versitygw.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	// Another process may have built it while we waited for the lock.
	if fresh(bin, goSum) {
		return bin, nil
	}
	// Build beside it and rename: writing over bin/versitygw in place would
	// fail (ETXTBSY) or corrupt it while another test's server runs it.
	tmp := filepath.Join(binDir, ".versitygw.tmp"+strconv.Itoa(os.Getpid()))
	defer func() { _ = os.Remove(tmp) }() // a no-op after a successful rename.
	cmd := exec.CommandContext(ctx, "go", "-C", filepath.Join(root, "hack", "tools"),
		"build", "-o", tmp, versitygwPkg)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("s3server: build versitygw (or run `make bin/versitygw`, or set %s): %w\n%s",
			BinaryEnv, err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", fmt.Errorf("s3server: %w", err)
	}
	return bin, nil
}

// fresh reports whether bin exists and was built after the tools module's
// pins last changed. A go.sum we cannot stat makes it stale, so that the
// build reports the real problem.
func fresh(bin, goSum string) bool {
	b, err := os.Stat(bin)
	if err != nil || !b.Mode().IsRegular() {
		return false
	}
	s, err := os.Stat(goSum)
	return err == nil && b.ModTime().After(s.ModTime())
}

// lockFile takes an exclusive flock, polling so that a cancelled context
// ends the wait (a blocking flock cannot be interrupted). The kernel drops
// the lock if the process dies, so a killed build never wedges the others.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("s3server: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = f.Close() }, nil // closing releases the lock.
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("s3server: lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("s3server: waiting for %s: %w", path, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// moduleRoot walks up from dir to the directory of this module's go.mod.
// The module path is checked because hack/tools has a go.mod of its own.
func moduleRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("s3server: %w", err)
	}
	for {
		if moduleOf(filepath.Join(dir, "go.mod")) == modulePath {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("s3server: no go.mod of module %s above the working directory; set %s",
				modulePath, BinaryEnv)
		}
		dir = parent
	}
}

// moduleOf returns the module path declared by a go.mod, or "" if the file
// is missing or does not start with a module directive.
func moduleOf(goMod string) string {
	f, err := os.Open(goMod)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "//") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) == 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`)
		}
		return ""
	}
	return ""
}

func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return errors.New("not an executable file")
	}
	return nil
}
