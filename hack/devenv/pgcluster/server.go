package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/meeboter/meeboter/hack/devenv/childproc"
	"github.com/meeboter/meeboter/hack/devenv/proctail"
)

const (
	readyTimeout = 2 * time.Minute
	stopTimeout  = 30 * time.Second
	// maxSocketPath is sun_path's size on Linux less the NUL; a longer
	// socket path makes postgres refuse to start.
	maxSocketPath = 107
)

// server is one running postmaster process.
type server struct {
	*childproc.Process
	log *proctail.Tail
}

func serverArgs(dataDir string, port int) []string {
	// The socket goes into the data dir because the default
	// (/var/run/postgresql) is not writable by an unprivileged user; it is
	// disabled if the path would be too long for a socket.
	socketDir := dataDir
	if len(socketDir)+len("/.s.PGSQL.")+len(strconv.Itoa(port)) > maxSocketPath {
		socketDir = ""
	}
	return []string{
		"-D", dataDir, "-p", strconv.Itoa(port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "unix_socket_directories=" + socketDir,
		// Throwaway data: trade crash safety for speed.
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		// Parallel tests each hold a pool; the default 100 runs out.
		"-c", "max_connections=300",
	}
}

// launch starts postgres without waiting for it to accept connections.
func launch(binDir, dataDir string, port int, cred *syscall.Credential, log *proctail.Tail) (*server, error) {
	cmd := exec.Command(filepath.Join(binDir, "postgres"), serverArgs(dataDir, port)...)
	cmd.Dir = dataDir // our own cwd may be unreadable for the server user.
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = sysProcAttr(cred)
	// Backends that outlive a killed postmaster hold the log pipe open;
	// do not let Wait hang on them.
	cmd.WaitDelay = 10 * time.Second
	p, err := childproc.Start(cmd)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: start postgres: %w", err)
	}
	return &server{Process: p, log: log}, nil
}

// waitReady polls until postgres completes a connection handshake. An open
// TCP port is not enough: during startup and recovery it accepts connections
// only to refuse them.
func (s *server) waitReady(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	for {
		if err := ping(ctx, url); err == nil {
			return nil
		}
		select {
		case <-s.Exited():
			return fmt.Errorf("pgcluster: postgres exited before accepting connections (%w); log:\n%s",
				s.Err(), s.log)
		case <-ctx.Done():
			_ = s.shutdown(syscall.SIGQUIT, 5*time.Second)
			return fmt.Errorf("pgcluster: postgres did not accept connections: %w; log:\n%s", ctx.Err(), s.log)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func ping(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	conn, err := pgconn.Connect(ctx, url)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// portTaken reports whether the server died because another process grabbed
// the port between freePort and postgres binding it.
func (s *server) portTaken() bool {
	return strings.Contains(s.log.String(), "Address already in use")
}

// sharedMemoryInUse reports that the server refused to start because the
// processes of a previous, killed server of this data directory still run.
func (s *server) sharedMemoryInUse() bool {
	return strings.Contains(s.log.String(), "pre-existing shared memory block")
}

// shutdown sends sig (SIGINT is what pg_ctl stop -m fast sends: roll back
// sessions, checkpoint, exit) and escalates to SIGKILL after timeout.
func (s *server) shutdown(sig syscall.Signal, timeout time.Duration) error {
	switch alreadyExited, killed := s.Stop(sig, timeout); {
	case alreadyExited && s.Err() != nil:
		return fmt.Errorf("pgcluster: postgres had exited: %w; log:\n%s", s.Err(), s.log)
	case killed:
		return errors.New("pgcluster: postgres ignored shutdown request and was killed")
	}
	return nil
}
