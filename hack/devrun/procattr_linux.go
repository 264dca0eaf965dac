package main

import "syscall"

// serveProcAttr puts serve in its own process group, so a terminal's Ctrl-C
// reaches only devrun, which then stops serve before Postgres; and makes it
// exit if devrun dies without stopping it.
func serveProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}
