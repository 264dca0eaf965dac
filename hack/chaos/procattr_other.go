//go:build !linux

package main

import "syscall"

// childProcAttr puts a child in its own process group, so a terminal's
// Ctrl-C reaches only the runner, which then stops everything in order.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
