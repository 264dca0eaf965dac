package pgcluster

import "syscall"

func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{
		Credential: cred,
		// Own process group: a terminal's Ctrl-C goes to the Go program,
		// which then stops the server in its own order.
		Setpgid: true,
		// If the Go program dies without calling Stop (panic, SIGKILL),
		// the server shuts down fast instead of lingering on the port.
		Pdeathsig: syscall.SIGINT,
	}
}
