//go:build unix && !linux

package main

import "syscall"

// serveProcAttr puts serve in its own process group, so a terminal's Ctrl-C
// reaches only devrun, which then stops serve before Postgres.
func serveProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
