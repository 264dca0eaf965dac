package simcontainer

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

// Workload runs one container: it gets the container's environment and runs
// until ctx is cancelled (a stop; context.Cause tells why) or it exits by
// itself, returning an exit code. A Workload must return soon after ctx is
// cancelled; one that does not is given up for dead after the stop grace.
type Workload func(ctx context.Context, env map[string]string) (exitCode int)

// ErrKilled marks a stop cause that kills at once (a crash, a vanished
// container) instead of SIGTERM then SIGKILL after the grace. Simulators wrap
// it in their own causes.
var ErrKilled = errors.New("simcontainer: killed")

type graceKey struct{}

// WithStopGrace records how long a stopped container gets before it is
// killed (Coolify's stop_grace_period, ECS's stopTimeout).
func WithStopGrace(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, graceKey{}, d)
}

// StopGrace returns the stop grace recorded in ctx.
func StopGrace(ctx context.Context) (time.Duration, bool) {
	d, ok := ctx.Value(graceKey{}).(time.Duration)
	return d, ok
}

// defaultKillGrace is docker stop's own default, for contexts that do not
// carry a grace period.
const defaultKillGrace = 10 * time.Second

// processConfig holds ProcessWorkload's options.
type processConfig struct {
	output    io.Writer
	killGrace time.Duration
}

// ProcessOption configures ProcessWorkload.
type ProcessOption func(*processConfig)

// WithOutput sends the process's stdout and stderr to w (default: discarded,
// as nobody reads container logs here).
func WithOutput(w io.Writer) ProcessOption { return func(c *processConfig) { c.output = w } }

// WithKillGrace overrides the time between SIGTERM and SIGKILL on stop
// (default: the grace in the context, see StopGrace).
func WithKillGrace(d time.Duration) ProcessOption { return func(c *processConfig) { c.killGrace = d } }

// ProcessWorkload runs command as an OS process per container run, with
// exactly the container's environment plus PATH and HOME from this process
// (unless the container sets them). The process leads its own process group, like
// a container's PID namespace: on stop the group gets SIGTERM, then SIGKILL
// after the grace period; a crash or vanish is SIGKILL at once; when the
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
		go func() {
			select {
			case <-done:
				return
			case <-ctx.Done():
			}
			if cause := context.Cause(ctx); errors.Is(cause, ErrKilled) {
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
				return
			}
			_ = syscall.Kill(-pgid, syscall.SIGTERM)
			grace := cfg.killGrace
			if grace == 0 {
				grace = defaultKillGrace
				if d, ok := StopGrace(ctx); ok {
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
		}()
		err := cmd.Wait()
		close(done)
		_ = syscall.Kill(-pgid, syscall.SIGKILL) // the rest of the "container"
		return exitCode(cmd.ProcessState, err)
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
