//go:build !linux

package pgcluster

import "syscall"

// sysProcAttr for non-Linux Unix systems, which lack a parent-death signal:
// there a killed program leaves its server running.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Credential: cred, Setpgid: true}
}
