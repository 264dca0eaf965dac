//go:build !linux

package main

import "syscall"

// childProcAttr puts the controller in its own process group; only Linux
// can also kill it when the bench dies.
func childProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
