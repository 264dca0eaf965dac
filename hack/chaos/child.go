package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// child is a process the runner started: a replica or a simulator.
type child struct {
	cmd    *exec.Cmd
	log    *os.File
	exited chan struct{} // closed once it has exited
	once   sync.Once
}

// startChild starts cmd with its output appended to logPath, in its own
// process group and (on Linux) killed if the runner dies.
func startChild(cmd *exec.Cmd, logPath string) (*child, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	if cmd.Stdout == nil {
		cmd.Stdout = f
	}
	cmd.Stderr = f
	cmd.SysProcAttr = childProcAttr()
	c := &child{cmd: cmd, log: f, exited: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// The parent-death signal fires when the thread that forked the
		// child exits: keep this goroutine on its thread while it runs.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait()
		_ = f.Close()
		close(c.exited)
	}()
	if err := <-started; err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	return c, nil
}

// kill SIGKILLs the process (not its group: a replica's bot processes lead
// groups of their own and must survive it) and waits for it.
func (c *child) kill() {
	c.once.Do(func() { _ = c.cmd.Process.Signal(syscall.SIGKILL) })
	<-c.exited
}

// alive reports whether the process still runs.
func (c *child) alive() bool {
	select {
	case <-c.exited:
		return false
	default:
		return true
	}
}

// exitDescription says how the process ended.
func (c *child) exitDescription() string {
	if st := c.cmd.ProcessState; st != nil {
		return st.String()
	}
	return "unknown"
}
