package ecssim

import (
	"context"
	"errors"
	"io"
	"maps"
	"os"
	"os/exec"
	"slices"
	"syscall"
	"time"
)

// Workload runs a task's essential container: it gets the container's
// environment (the task definition's, overlaid with RunTask's
// containerOverrides[].environment, plus what Fargate sets) and runs until
// ctx is cancelled (StopTask, an external stop, a crash or a vanish —
// context.Cause tells which) or it returns by itself with an exit code,
// which stops the task with EssentialContainerExited.
//
// A Workload must return soon after ctx is cancelled; one that does not is
// killed (exit code 137) after the task's stop timeout, and Close waits for
// it.
type Workload func(ctx context.Context, env map[string]string) (exitCode int)

// idleWorkload is a container that just runs.
func idleWorkload(ctx context.Context, _ map[string]string) int {
	<-ctx.Done()
	return 0
}

type graceKey struct{}

// StopTimeout is how long the simulator waits, after cancelling a
// Workload's context to stop it, before it treats the container as killed:
// the container's stopTimeout (Config.StopTimeout).
func StopTimeout(ctx context.Context) (time.Duration, bool) {
	d, ok := ctx.Value(graceKey{}).(time.Duration)
	return d, ok
}

// defaultKillGrace is used for contexts that carry no stop timeout.
const defaultKillGrace = 30 * time.Second

// processConfig holds ProcessWorkload's options.
type processConfig struct {
	output    io.Writer
	killGrace time.Duration
}

// ProcessOption configures ProcessWorkload.
type ProcessOption func(*processConfig)

// WithOutput sends the process's stdout and stderr to w (default:
// discarded).
func WithOutput(w io.Writer) ProcessOption { return func(c *processConfig) { c.output = w } }

// WithKillGrace overrides the time between SIGTERM and SIGKILL on stop
// (default: the task's stop timeout, see StopTimeout).
func WithKillGrace(d time.Duration) ProcessOption { return func(c *processConfig) { c.killGrace = d } }

// ProcessWorkload runs command as an OS process per task, with exactly the
// container's environment plus PATH and HOME from this process (unless the
// task sets them). The process leads its own process group, like a
// container's PID namespace: on stop the group gets SIGTERM, then SIGKILL
// after the stop timeout; a crash or vanish is SIGKILL at once; when the
// main process exits, what is left of the group is killed. A command that
// cannot start exits 127, as Docker reports it.
func ProcessWorkload(command []string, opts ...ProcessOption) Workload {
	cfg := processConfig{}
	for _, o := range opts {
		o(&cfg)
	}
	command = slices.Clone(command)
	return func(ctx context.Context, env map[string]string) int {
		if len(command) == 0 {
			return 127
		}
		cmd := exec.Command(command[0], command[1:]...)
		cmd.Env = processEnv(env)
		cmd.Stdout, cmd.Stderr = cfg.output, cfg.output
		// Output goes through a pipe when w is not a file; a grandchild
		// holding it open must not keep Wait from seeing the exit.
		cmd.WaitDelay = 500 * time.Millisecond
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			return 127
		}
		pgid := cmd.Process.Pid
		done := make(chan struct{})
		go signalOnCancel(ctx, pgid, cfg.killGrace, done)
		err := cmd.Wait()
		close(done)
		_ = syscall.Kill(-pgid, syscall.SIGKILL) // the rest of the "container"
		return exitCode(cmd.ProcessState, err)
	}
}

// signalOnCancel is docker stop for process group pgid once ctx ends:
// SIGTERM, then SIGKILL after the grace (at once for a crash or vanish).
func signalOnCancel(ctx context.Context, pgid int, grace time.Duration, done <-chan struct{}) {
	select {
	case <-done:
		return
	case <-ctx.Done():
	}
	if cause := context.Cause(ctx); errors.Is(cause, ErrCrashed) || errors.Is(cause, ErrVanished) {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		return
	}
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	if grace == 0 {
		grace = defaultKillGrace
		if d, ok := StopTimeout(ctx); ok {
			grace = d
		}
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
}

// processEnv is env as KEY=VALUE, plus this process's PATH and HOME.
func processEnv(env map[string]string) []string {
	out := make([]string, 0, len(env)+2)
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	for _, k := range []string{"PATH", "HOME"} {
		if _, set := env[k]; !set {
			if v, ok := os.LookupEnv(k); ok {
				out = append(out, k+"="+v)
			}
		}
	}
	return out
}

// exitCode is Docker's: the status, or 128+signal for a killed process.
func exitCode(ps *os.ProcessState, err error) int {
	if ps == nil {
		if err != nil {
			return 127
		}
		return 0
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}
