package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// coolifySim runs the Coolify simulator (bin/sim coolify) for
// `make demo-coolify`: its containers are meeboter-bot processes in pool-slot
// mode, so a pool can be watched working on one machine.
type coolifySim struct {
	cmd    *exec.Cmd
	exited <-chan struct{}
	env    []string // the COOLIFY_* lines it printed
}

func (d *devrun) startCoolifySim(ctx context.Context) (*coolifySim, error) {
	logf("building bin/sim and starting the Coolify simulator")
	build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(d.bin, "sim"), "./hack/sim")
	build.Dir, build.Stdout, build.Stderr = d.root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return nil, fmt.Errorf("go build ./hack/sim: %w", err)
	}
	cmd := exec.Command(filepath.Join(d.bin, "sim"), "coolify", "--addr", "127.0.0.1:0", //nolint:gosec // our own binary
		"--cold-start", "8s", "--warm-start", "1s",
		"--bot-command", filepath.Join(d.bin, "meeboter-bot")+" --simulate")
	cmd.Dir, cmd.Stderr = d.root, os.Stderr
	cmd.SysProcAttr = serveProcAttr()
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	exited, err := start(cmd)
	if err != nil {
		return nil, err
	}
	s := &coolifySim{cmd: cmd, exited: exited}
	lines := bufio.NewScanner(out)
	for len(s.env) < 4 && lines.Scan() {
		if strings.HasPrefix(lines.Text(), "COOLIFY_") {
			s.env = append(s.env, lines.Text())
		}
	}
	if len(s.env) < 4 {
		s.stop()
		return nil, fmt.Errorf("the Coolify simulator did not start")
	}
	return s, nil
}

// serveEnv points serve at the simulator.
func (s *coolifySim) serveEnv(env []string) []string {
	env = setEnv(env, "DEPLOYMENT_PLATFORM", "coolify")
	for _, kv := range s.env {
		k, v, _ := strings.Cut(kv, "=")
		env = setEnv(env, k, v)
	}
	return defaultEnv(env, "POOL_SYNC_INTERVAL", "1s")
}

func (s *coolifySim) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	logf("Coolify simulator stopped")
}
