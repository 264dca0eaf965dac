package s3server

import "syscall"

func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		// Own process group: a terminal's Ctrl-C goes to the Go program,
		// which then stops the server itself.
		Setpgid: true,
		// If the Go program dies without calling Stop (panic, SIGKILL, a
		// test binary killed on timeout), the server dies too instead of
		// lingering on its port. Its data is throwaway or on disk already.
		Pdeathsig: syscall.SIGKILL,
	}
}
