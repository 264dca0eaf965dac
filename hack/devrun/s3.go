package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/meeboter/meeboter/hack/devenv/s3server"
)

const defaultS3Port = 54399

// devS3 is the dev S3 server (versitygw) with its data under .dev/s3.
type devS3 struct {
	server *s3server.Server
	log    *os.File
}

// startS3 starts the dev S3 server unless S3_ENDPOINT (or MINIO_ENDPOINT) is
// set. Its credentials are generated once and kept in .dev/s3-credentials,
// so objects stay readable across runs.
func (d *devrun) startS3(ctx context.Context) (*devS3, error) {
	if os.Getenv("S3_ENDPOINT") != "" || os.Getenv("MINIO_ENDPOINT") != "" {
		logf("using S3_ENDPOINT from the environment; no dev S3")
		return nil, nil
	}
	access, err := d.devSecret("s3-access-key", 20)
	if err != nil {
		return nil, err
	}
	secret, err := d.devSecret("s3-secret-key", 40)
	if err != nil {
		return nil, err
	}
	logFile, err := os.OpenFile(filepath.Join(d.dev, "s3.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	addr := "127.0.0.1:0"
	if port := s3Port(); port != 0 {
		addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	}
	logf("starting dev S3 (versitygw) in .dev/s3 (log: .dev/s3.log)")
	srv, err := s3server.Start(ctx, s3server.Config{Dir: filepath.Join(d.dev, "s3"), Addr: addr,
		AccessKey: access, SecretKey: secret, Log: logFile})
	if err != nil {
		logFile.Close()
		return nil, fmt.Errorf("dev S3: %w", err)
	}
	logf("dev S3 at %s", srv.Endpoint())
	return &devS3{server: srv, log: logFile}, nil
}

// s3Port is DEV_S3_PORT, else 54399 when free, else 0 (any).
func s3Port() int {
	if v, err := strconv.Atoi(os.Getenv("DEV_S3_PORT")); err == nil {
		return v
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(defaultS3Port)))
	if err != nil {
		return 0
	}
	_ = ln.Close()
	return defaultS3Port
}

func (s *devS3) stop() {
	if s == nil {
		return
	}
	_ = s.server.Stop()
	_ = s.log.Close()
	logf("dev S3 stopped (data kept in .dev/s3)")
}

// serveEnv points serve at the dev S3.
func (s *devS3) serveEnv(env []string) []string {
	if s == nil {
		return env
	}
	env = setEnv(env, "S3_ENDPOINT", s.server.Endpoint())
	env = setEnv(env, "S3_ACCESS_KEY", s.server.AccessKey())
	env = setEnv(env, "S3_SECRET_KEY", s.server.SecretKey())
	env = defaultEnv(env, "S3_BUCKET_NAME", "meeboter-recordings")
	return setEnv(env, "S3_REGION", s.server.Region())
}

// devSecret returns the secret kept in .dev/<name>, creating it once.
func (d *devrun) devSecret(name string, n int) (string, error) {
	path := filepath.Join(d.dev, name)
	if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) >= n {
		return strings.TrimSpace(string(b)), nil
	}
	v := (rand.Text() + rand.Text())[:n] // 52 base32 characters, 5 bits each
	return v, os.WriteFile(path, []byte(v+"\n"), 0o600)
}
