//go:build !linux

package s3server

import "syscall"

// sysProcAttr for non-Linux Unix systems, which lack a parent-death signal:
// there a killed program leaves its server running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
