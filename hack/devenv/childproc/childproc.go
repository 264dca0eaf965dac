// Package childproc runs the servers the tests and `make run` start
// (Postgres, versitygw, etcd, kube-apiserver) as child processes that die
// with this one: the caller sets Pdeathsig in cmd.SysProcAttr, and Start
// forks from a goroutine locked to its OS thread, because the parent-death
// signal fires when the *thread* that forked the child exits, not the
// process; the lock keeps Go from retiring that thread under the child.
package childproc

import (
	"runtime"
	"syscall"
	"time"

	"os/exec"
)

// Process is a started child.
type Process struct {
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // valid once exited is closed
}

// Start starts cmd and waits for it in the background.
func Start(cmd *exec.Cmd) (*Process, error) {
	p := &Process{cmd: cmd, exited: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		p.err = cmd.Wait()
		close(p.exited)
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

// Exited is closed once the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// Err is how the process ended (cmd.Wait's error); call it once Exited is
// closed.
func (p *Process) Err() error { return p.err }

// Stop sends sig and waits up to grace for the process to exit, then kills
// it. alreadyExited reports a process that had ended before Stop; killed,
// one that had to be killed.
func (p *Process) Stop(sig syscall.Signal, grace time.Duration) (alreadyExited, killed bool) {
	select {
	case <-p.exited:
		return true, false
	default:
	}
	_ = p.cmd.Process.Signal(sig) // it may exit on its own meanwhile.
	select {
	case <-p.exited:
		return false, false
	case <-time.After(grace):
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	return false, true
}
