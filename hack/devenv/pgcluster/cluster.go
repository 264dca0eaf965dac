package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/meeboter/meeboter/hack/devenv/proctail"
)

// Options configures Start.
type Options struct {
	// DataDir is the cluster's data directory. Empty means a fresh
	// temporary directory.
	DataDir string
	// Port is the loopback TCP port to listen on; 0 picks a free one.
	Port int
	// Keep makes the data directory survive Stop, and lets Start reuse it
	// when it already holds a cluster. Without Keep, DataDir must be empty
	// or missing and Stop deletes it.
	Keep bool
	// Log, if set, receives initdb's and the server's output.
	Log io.Writer
	// BinDir overrides FindBinDir.
	BinDir string
}

// Cluster is a running server. Its superuser is "postgres", with trust
// authentication, so URLs carry no password.
type Cluster struct {
	dataDir   string
	removeDir string // deleted by Stop; empty with Keep
	port      int
	srv       *server
	stopOnce  sync.Once
	stopErr   error
}

// startAttempts bounds retries when a picked port is taken by someone else
// before postgres binds it.
const startAttempts = 3

// Start initializes the data directory if needed, starts postgres and waits
// until it accepts connections.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	binDir := opts.BinDir
	if binDir == "" {
		var err error
		if binDir, err = FindBinDir(); err != nil {
			return nil, err
		}
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	dataDir, removeDir, err := dataDirs(opts)
	if err != nil {
		return nil, err
	}
	c := &Cluster{dataDir: dataDir, removeDir: removeDir}
	if err := c.start(ctx, binDir, cred, opts); err != nil {
		if removeDir != "" {
			err = errors.Join(err, os.RemoveAll(removeDir))
		}
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(ctx context.Context, binDir string, cred *syscall.Credential, opts Options) error {
	log := &proctail.Tail{Also: opts.Log}
	if err := c.prepare(ctx, binDir, cred, log); err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		port := opts.Port
		if port == 0 {
			var err error
			if port, err = freePort(); err != nil {
				return err
			}
		}
		srv, err := launch(binDir, c.dataDir, port, cred, log)
		if err != nil {
			return err
		}
		c.port = port
		err = srv.waitReady(ctx, c.URL("postgres"))
		if err == nil {
			c.srv = srv
			return nil
		}
		if srv.sharedMemoryInUse() && attempt < shmAttempts {
			// The children of a killed server still hold its shared memory
			// until they notice their postmaster is gone: wait for them.
			select {
			case <-ctx.Done():
				return err
			case <-time.After(200 * time.Millisecond):
			}
			continue
		}
		if opts.Port != 0 || attempt >= startAttempts || !srv.portTaken() {
			return err
		}
	}
}

// shmAttempts bounds the wait for a killed server's children to let go of
// its shared memory (50 × 200 ms).
const shmAttempts = 50

// prepare makes the data directory ready to start a server from: a fresh
// cluster, or a kept one the server user can still reach.
func (c *Cluster) prepare(ctx context.Context, binDir string, cred *syscall.Credential, log *proctail.Tail) error {
	if !initialized(c.dataDir) {
		return initdb(ctx, binDir, c.dataDir, cred, log)
	}
	if cred != nil {
		if err := grantTraverse(filepath.Dir(c.dataDir), cred); err != nil {
			return err
		}
	}
	return clearStalePID(ctx, c.dataDir)
}

func initdb(ctx context.Context, binDir, dataDir string, cred *syscall.Credential, log *proctail.Tail) error {
	if err := makeDataDir(dataDir, cred); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "initdb"),
		"-D", dataDir, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8",
		// A fixed locale: the environment's may not be generated on this
		// machine (initdb then fails), and C sorts the same everywhere.
		"--locale=C")
	cmd.Dir = dataDir
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = sysProcAttr(cred)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pgcluster: initdb: %w; output:\n%s", err, log)
	}
	return nil
}

// freePort asks the kernel for an unused loopback port. Another process may
// take it before postgres binds it; Start retries in that case.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgcluster: pick a port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// URL returns a connection URL for database dbname as the superuser.
func (c *Cluster) URL(dbname string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User("postgres"),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/" + dbname,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Port returns the TCP port the server listens on.
func (c *Cluster) Port() int { return c.port }

// DataDir returns the absolute path of the data directory.
func (c *Cluster) DataDir() string { return c.dataDir }

// Stop shuts the server down (like pg_ctl stop -m fast) and deletes the data
// directory unless Keep was set. It is safe to call more than once.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		c.stopErr = c.srv.shutdown(syscall.SIGINT, stopTimeout)
		if c.removeDir != "" {
			c.stopErr = errors.Join(c.stopErr, os.RemoveAll(c.removeDir))
		}
	})
	return c.stopErr
}
