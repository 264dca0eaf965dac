package main

import "syscall"

// childProcAttr puts a child in its own process group (a terminal's Ctrl-C
// reaches only the runner, which then stops everything in order) and kills
// it if the runner dies without cleaning up (a panic, a test timeout).
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
