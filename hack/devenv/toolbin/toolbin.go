// Package toolbin finds or builds the test and dev tools pinned in this
// repository's tools modules (hack/tools, hack/kubetools): the S3 server,
// kube-apiserver, etcd. Each is built once into bin/ under a file lock,
// because `go test ./...` runs several packages' test binaries at once.
package toolbin

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
	"sync"
	"syscall"
	"time"
)

const modulePath = "github.com/meeboter/meeboter"

// Tool is a binary built from a tools module.
type Tool struct {
	Name   string // the file under bin/
	Pkg    string // the package to build
	Module string // the tools module's directory, from the module root (hack/tools)
	// Env names an environment variable that points at a binary to use
	// instead (VERSITYGW_BIN).
	Env string
}

// sems serialise Path per tool within a process, and cache its result: many
// parallel tests call it at once and only one of them should build. Unlike
// a mutex a semaphore can be given up when the caller's context ends.
var (
	mu    sync.Mutex
	sems  = map[string]chan struct{}{}
	built = map[string]string{} // guarded by mu
)

func sem(name string) chan struct{} {
	mu.Lock()
	defer mu.Unlock()
	if sems[name] == nil {
		sems[name] = make(chan struct{}, 1)
	}
	return sems[name]
}

// Path returns the path of t's binary: $Env if set; else <module root>/bin/
// <Name> if it exists and is newer than the tools module's go.sum (which
// the Makefile's bin/ targets guarantee); else it builds it there from the
// pinned version, under an exclusive lock on bin/.<Name>.lock. The module
// root is found by walking up from the working directory.
func Path(ctx context.Context, t Tool) (string, error) {
	if path := os.Getenv(t.Env); t.Env != "" && path != "" {
		if err := checkExecutable(path); err != nil {
			return "", fmt.Errorf("toolbin: %s=%s: %w", t.Env, path, err)
		}
		return path, nil
	}
	s := sem(t.Name)
	select {
	case s <- struct{}{}:
	case <-ctx.Done():
		return "", fmt.Errorf("toolbin: waiting for the %s build: %w", t.Name, ctx.Err())
	}
	defer func() { <-s }()
	mu.Lock()
	p := built[t.Name]
	mu.Unlock()
	if p != "" {
		return p, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("toolbin: %w", err)
	}
	root, err := moduleRoot(wd, t.Env)
	if err != nil {
		return "", err
	}
	path, err := build(ctx, root, t)
	if err != nil {
		return "", err
	}
	mu.Lock()
	built[t.Name] = path
	mu.Unlock()
	return path, nil
}

func build(ctx context.Context, root string, t Tool) (string, error) {
	binDir := filepath.Join(root, "bin")
	bin := filepath.Join(binDir, t.Name)
	goSum := filepath.Join(root, t.Module, "go.sum")
	if fresh(bin, goSum) {
		return bin, nil
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", fmt.Errorf("toolbin: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(binDir, "."+t.Name+".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	// Another process may have built it while we waited for the lock.
	if fresh(bin, goSum) {
		return bin, nil
	}
	// Build beside it and rename: writing over the binary in place would
	// fail (ETXTBSY) or corrupt it while another test runs it.
	tmp := filepath.Join(binDir, "."+t.Name+".tmp"+strconv.Itoa(os.Getpid()))
	defer func() { _ = os.Remove(tmp) }() // a no-op after a successful rename.
	cmd := exec.CommandContext(ctx, "go", "-C", filepath.Join(root, t.Module), "build", "-o", tmp, t.Pkg)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("toolbin: build %s (or run `make bin/%s`, or set %s): %w\n%s", t.Name, t.Name, t.Env, err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		return "", fmt.Errorf("toolbin: %w", err)
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
		return nil, fmt.Errorf("toolbin: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { _ = f.Close() }, nil // closing releases the lock.
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("toolbin: lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("toolbin: waiting for %s: %w", path, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// moduleRoot walks up from dir to the directory of this module's go.mod.
// The module path is checked because the tools modules have go.mods of their own.
func moduleRoot(dir, env string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("toolbin: %w", err)
	}
	for {
		if moduleOf(filepath.Join(dir, "go.mod")) == modulePath {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("toolbin: no go.mod of module %s above the working directory; set %s",
				modulePath, env)
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
