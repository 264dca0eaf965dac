package s3server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/meeboter/meeboter/hack/devenv/childproc"
	"github.com/meeboter/meeboter/hack/devenv/proctail"
)

const (
	defaultAddr         = "127.0.0.1:0"
	defaultRegion       = "us-east-1"
	defaultStartTimeout = 30 * time.Second
	stopTimeout         = 5 * time.Second
	// portAttempts bounds the retries when another process takes the free
	// port picked for the server before the server binds it.
	portAttempts = 5
)

// Config describes a server to start. Only Dir is required.
type Config struct {
	// Dir is the data directory, created if missing; buckets are its
	// sub-directories and objects their files. It must be on a file system
	// with user extended attributes (ext4, xfs, btrfs; tmpfs since Linux
	// 6.6), where versitygw keeps object metadata.
	Dir string
	// Addr is the listen address. Default "127.0.0.1:0": a free loopback
	// port.
	Addr string
	// AccessKey and SecretKey are the root credentials, the only account.
	// Default: random, 20 and 40 characters.
	AccessKey string
	SecretKey string
	// Region is the region requests must be signed for. Default "us-east-1".
	Region string
	// Binary is the versitygw executable. Default: Binary(ctx).
	Binary string
	// Log receives the server's output. Default: discarded (the end of it
	// still appears in Start's errors).
	Log io.Writer
	// StartTimeout bounds the wait for the server to answer. Default 30s.
	StartTimeout time.Duration
}

// Server is a running versitygw process.
type Server struct {
	proc      *childproc.Process
	log       *proctail.Tail
	hostPort  string
	accessKey string
	secretKey string
	region    string

	stopOnce sync.Once
	stopErr  error
}

// Start starts versitygw on cfg.Dir and returns once it answers HTTP. ctx
// bounds the start-up only: the server runs until Stop, or until the program
// exits (on Linux).
func Start(ctx context.Context, cfg Config) (*Server, error) {
	cfg, err := withDefaults(ctx, cfg)
	if err != nil {
		return nil, err
	}
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("s3server: Addr %q: %w", cfg.Addr, err)
	}
	if port != "0" {
		return start(ctx, cfg, cfg.Addr, connectHost(host))
	}
	for attempt := 1; ; attempt++ {
		free, err := freePort(host)
		if err != nil {
			return nil, err
		}
		addr := net.JoinHostPort(host, strconv.Itoa(free))
		s, err := start(ctx, cfg, addr, connectHost(host))
		if errors.Is(err, errPortTaken) && attempt < portAttempts {
			continue
		}
		return s, err
	}
}

func withDefaults(ctx context.Context, cfg Config) (Config, error) {
	if cfg.Dir == "" {
		return cfg, errors.New("s3server: Config.Dir is required")
	}
	dir, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return cfg, fmt.Errorf("s3server: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return cfg, fmt.Errorf("s3server: %w", err)
	}
	cfg.Dir = dir
	if cfg.Addr == "" {
		cfg.Addr = defaultAddr
	}
	if cfg.AccessKey == "" {
		cfg.AccessKey = rand.Text()[:20]
	}
	if cfg.SecretKey == "" {
		cfg.SecretKey = (rand.Text() + rand.Text())[:40]
	}
	if cfg.Region == "" {
		cfg.Region = defaultRegion
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = defaultStartTimeout
	}
	if cfg.Binary == "" {
		if cfg.Binary, err = Binary(ctx); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

// errPortTaken is what a server that lost the race for its port fails with.
var errPortTaken = errors.New("address already in use")

// start launches one server on addr and waits for it; dialHost is where
// clients reach it.
func start(ctx context.Context, cfg Config, addr, dialHost string) (*Server, error) {
	_, port, _ := net.SplitHostPort(addr) // addr comes from Start, already split once.
	// A random health path identifies *this* server: a bare "any HTTP
	// answer" could come from whatever else grabbed the port meanwhile.
	readyPath := "/.s3server-ready-" + rand.Text()
	cmd := exec.Command(cfg.Binary, //nolint:gosec // the binary is the caller's or our own build.
		"--port", addr, "--region", cfg.Region, "--health", readyPath, "--quiet",
		"posix", cfg.Dir)
	// Credentials go through the environment, not argv, which any local
	// user can read in ps.
	cmd.Env = append(serverEnviron(),
		"ROOT_ACCESS_KEY_ID="+cfg.AccessKey, "ROOT_SECRET_ACCESS_KEY="+cfg.SecretKey)
	log := &proctail.Tail{Also: cfg.Log}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = stopTimeout // do not hang on output pipes after it exits.
	proc, err := childproc.Start(cmd)
	if err != nil {
		return nil, fmt.Errorf("s3server: start %s: %w", cfg.Binary, err)
	}
	s := &Server{
		proc:      proc,
		log:       log,
		hostPort:  net.JoinHostPort(dialHost, port),
		accessKey: cfg.AccessKey,
		secretKey: cfg.SecretKey,
		region:    cfg.Region,
	}
	if err := s.waitReady(ctx, cfg.StartTimeout, readyPath); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

// serverEnviron is our environment without the variables versitygw reads
// its options from (VGW_*, ROOT_*, LOGFILE, WEBHOOK), so a developer's shell
// cannot change the server the tests get.
func serverEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "VGW_"), strings.HasPrefix(name, "ROOT_ACCESS_KEY"),
			strings.HasPrefix(name, "ROOT_SECRET"), name == "LOGFILE", name == "WEBHOOK":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// waitReady polls the health path until this server answers it.
func (s *Server) waitReady(ctx context.Context, timeout time.Duration, path string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 500 * time.Millisecond}
	url := s.Endpoint() + path
	for {
		if s.answers(ctx, client, url) {
			return nil
		}
		select {
		case <-s.proc.Exited():
			if strings.Contains(strings.ToLower(s.log.String()), "address already in use") {
				return fmt.Errorf("s3server: %s: %w; output:\n%s", s.hostPort, errPortTaken, s.log)
			}
			return fmt.Errorf("s3server: versitygw exited before answering (%w); output:\n%s%s",
				s.exitErr(), s.log, xattrHint(s.log.String()))
		case <-ctx.Done():
			return fmt.Errorf("s3server: versitygw did not answer on %s: %w; output:\n%s",
				s.hostPort, ctx.Err(), s.log)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func (s *Server) answers(ctx context.Context, client *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
	if err != nil {
		return false
	}
	res, err := client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	return res.StatusCode == http.StatusOK && res.Header.Get("Server") == "VERSITYGW"
}

func xattrHint(output string) string {
	if !strings.Contains(output, "xattr check failed") {
		return ""
	}
	return "\n(Config.Dir must be on a file system with user extended attributes)"
}

// Endpoint is the server's base URL, "http://127.0.0.1:PORT".
func (s *Server) Endpoint() string { return "http://" + s.hostPort }

// HostPort is the server's address, "127.0.0.1:PORT", as S3 clients that take
// no scheme (minio-go) want it.
func (s *Server) HostPort() string { return s.hostPort }

// AccessKey is the root account's access key ID.
func (s *Server) AccessKey() string { return s.accessKey }

// SecretKey is the root account's secret access key.
func (s *Server) SecretKey() string { return s.secretKey }

// Region is the region requests must be signed for.
func (s *Server) Region() string { return s.region }

// Done is closed when the process has exited, whether through Stop or not,
// so a long-running caller (make run) can notice a crash.
func (s *Server) Done() <-chan struct{} { return s.proc.Exited() }

// Stop sends SIGTERM, waits up to 5s for a graceful exit, then kills the
// server. It returns an error if the server had already died on its own or
// had to be killed. Calling it again returns the same result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.stop() })
	return s.stopErr
}

func (s *Server) stop() error {
	switch alreadyExited, killed := s.proc.Stop(syscall.SIGTERM, stopTimeout); {
	case alreadyExited:
		return fmt.Errorf("s3server: versitygw had exited before Stop (%w); output:\n%s", s.exitErr(), s.log)
	case killed:
		return errors.New("s3server: versitygw ignored SIGTERM and was killed")
	}
	return nil
}

// exitErr is why the process ended; call it once Done is closed.
func (s *Server) exitErr() error {
	if s.proc.Err() == nil {
		return errors.New("exit status 0")
	}
	return s.proc.Err()
}

// freePort asks the kernel for a free port on host. It is free only until
// someone else takes it, hence the retries in Start.
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("s3server: find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return port, nil
}

// connectHost is the host clients dial for a listen host: the loopback
// address of the same family for a wildcard one.
func connectHost(host string) string {
	ip := net.ParseIP(host)
	switch {
	case host == "" || (ip != nil && ip.Equal(net.IPv4zero)):
		return "127.0.0.1"
	case ip != nil && ip.IsUnspecified():
		return "::1"
	}
	return host
}
