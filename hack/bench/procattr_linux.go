package main

import "syscall"

// childProcAttr puts the controller in its own process group (a terminal's
// Ctrl-C reaches only the bench, which then stops it) and kills it if the
// bench dies without cleaning up.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
