// Command devrun is what `make run` runs: Meeboter on this machine, from a
// fresh clone, with nothing to set up by hand.
//
// It builds bin/meeboter and bin/meeboter-bot (side by side, where serve
// looks for the bot by default), starts a dev Postgres from the system
// binaries with its data under .dev/postgres (kept between runs; port 54329,
// or DEV_PG_PORT, or a free one when that is busy) unless DATABASE_URL is
// set, starts a dev S3 server (versitygw, data under .dev/s3, port 54399 or
// DEV_S3_PORT) unless S3_ENDPOINT is set, applies the migrations, creates a
// dev API key once (kept in .dev/api-key and reused while it still
// authenticates), and runs `meeboter serve` on the local platform with its
// state under .dev/local. The webhook signing secret is .dev/webhook-secret.
//
// Once /readyz answers it prints the API address, the key and a curl command
// that creates a simulated bot. Ctrl-C (SIGINT or SIGTERM) stops serve and the
// dev Postgres and S3 (whose data stays) and exits 0; if serve dies on its own, devrun
// stops Postgres and exits with serve's code. Bot processes that are still
// running are left to the next run's controller to adopt, as on any restart.
//
// The environment passes through to serve; DATABASE_URL, HTTP_ADDR,
// LOG_FORMAT, LOCAL_STATE_DIR and DEPLOYMENT_PLATFORM override devrun's
// defaults.
package main

import (
	"bufio"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/meeboter/meeboter/hack/devenv/pgcluster"
	"github.com/meeboter/meeboter/pkg/config"
	"github.com/meeboter/meeboter/pkg/store"
)

const (
	defaultPGPort   = 54329
	dbName          = "meeboter"
	defaultHTTPAddr = "127.0.0.1:8080"
	readyTimeout    = 60 * time.Second
	stopGrace       = 20 * time.Second
)

func main() {
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: go run ./hack/devrun [--coolify-sim]   (see the package doc; configure with environment variables)")
	}
	flag.BoolVar(&withCoolifySim, "coolify-sim", false, "deploy to a Coolify simulator (bots as pool slots) instead of local processes")
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	os.Exit(run())
}

// withCoolifySim runs the controller against the Coolify simulator.
var withCoolifySim bool

// devrun holds what the steps share.
type devrun struct {
	root       string // repository root
	dev        string // root/.dev
	bin        string // root/bin
	dbURL      string
	pg         *pgcluster.Cluster // nil when DATABASE_URL was given
	sim        *coolifySim        // with --coolify-sim
	s3         *devS3             // nil when S3_ENDPOINT was given
	hookSecret string             // WEBHOOK_SECRET for serve
	opToken    string             // OPERATOR_TOKEN for serve: the River UI's password
	stdout     io.Writer
}

// run does everything until Ctrl-C and returns the exit code.
func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	d, err := setup(ctx)
	if d != nil && d.pg != nil {
		defer d.stopPostgres()
	}
	if err != nil {
		if ctx.Err() != nil {
			logf("interrupted")
			return 0
		}
		logf("%v", err)
		return 1
	}
	if d.s3, err = d.startS3(ctx); err != nil {
		logf("%v", err)
		return 1
	}
	defer d.s3.stop()
	if d.hookSecret, err = d.devSecret("webhook-secret", 32); err != nil {
		logf("%v", err)
		return 1
	}
	if d.opToken, err = d.devSecret("operator-token", 24); err != nil {
		logf("%v", err)
		return 1
	}
	if withCoolifySim {
		if d.sim, err = d.startCoolifySim(ctx); err != nil {
			logf("%v", err)
			return 1
		}
		defer d.sim.stop()
	}
	return d.serve(ctx)
}

// setup builds, provides a database and migrates it. The returned devrun is
// non-nil once a dev Postgres may need stopping.
func setup(ctx context.Context) (*devrun, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	d := &devrun{root: root, dev: filepath.Join(root, ".dev"), bin: filepath.Join(root, "bin"), stdout: os.Stdout}
	if err := os.MkdirAll(d.dev, 0o700); err != nil {
		return nil, err
	}
	if err := d.build(ctx); err != nil {
		return nil, err
	}
	if err := d.database(ctx); err != nil {
		return d, err
	}
	out, err := d.meeboter(ctx, "migrate")
	if err != nil {
		return d, err
	}
	logf("%s", strings.TrimSpace(out))
	return d, nil
}

// repoRoot finds the directory holding go.mod, from the working directory up.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run me inside the repository (no go.mod found)")
		}
		dir = parent
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "devrun: "+format+"\n", args...)
}

// build compiles both binaries into bin/.
func (d *devrun) build(ctx context.Context) error {
	logf("building bin/meeboter and bin/meeboter-bot")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", d.bin+string(filepath.Separator), "./cmd/meeboter", "./cmd/meeboter-bot")
	cmd.Dir = d.root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	return nil
}

// database uses DATABASE_URL, or starts the dev Postgres and creates the
// meeboter database in it.
func (d *devrun) database(ctx context.Context) error {
	if u := strings.TrimSpace(os.Getenv("DATABASE_URL")); u != "" {
		logf("using DATABASE_URL from the environment; no dev Postgres")
		d.dbURL = u
		return nil
	}
	port, err := pgPort()
	if err != nil {
		return err
	}
	logFile, err := os.OpenFile(filepath.Join(d.dev, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	// The server outlives this function; the file stays open with it.
	logf("starting dev Postgres in .dev/postgres (log: .dev/postgres.log)")
	d.pg, err = pgcluster.Start(ctx, pgcluster.Options{DataDir: filepath.Join(d.dev, "postgres"), Keep: true, Port: port, Log: logFile})
	if err != nil {
		return err
	}
	logf("dev Postgres listening on 127.0.0.1:%d", d.pg.Port())
	if err := createDatabase(ctx, d.pg.URL("postgres"), dbName); err != nil {
		return err
	}
	d.dbURL = d.pg.URL(dbName)
	return nil
}

// pgPort is DEV_PG_PORT or 54329, or 0 (any free port) when that one is busy.
func pgPort() (int, error) {
	port := defaultPGPort
	if v := strings.TrimSpace(os.Getenv("DEV_PG_PORT")); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > 65535 {
			return 0, fmt.Errorf("DEV_PG_PORT: want a port number, got %q", v)
		}
		port = p
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		logf("port %d is busy; the dev Postgres takes a free one", port)
		return 0, nil
	}
	return port, l.Close()
}

// createDatabase creates database name unless it exists.
func createDatabase(ctx context.Context, adminURL, name string) error {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect to dev Postgres: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return fmt.Errorf("look for database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P04" { // duplicate_database: created meanwhile
		return nil
	}
	if err != nil {
		return fmt.Errorf("create database %s: %w", name, err)
	}
	logf("created database %s", name)
	return nil
}

func (d *devrun) stopPostgres() {
	if err := d.pg.Stop(); err != nil {
		logf("stop dev Postgres: %v", err)
		return
	}
	logf("dev Postgres stopped (data kept in .dev/postgres)")
}

// meeboter runs bin/meeboter with args against the database and returns its
// standard output; its standard error goes to ours.
func (d *devrun) meeboter(ctx context.Context, args ...string) (string, error) {
	var out strings.Builder
	cmd := exec.CommandContext(ctx, filepath.Join(d.bin, "meeboter"), args...)
	cmd.Dir = d.root
	cmd.Env = setEnv(os.Environ(), "DATABASE_URL", d.dbURL)
	cmd.Stdout, cmd.Stderr = &out, os.Stderr
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("meeboter %s: %w", strings.Join(args, " "), err)
	}
	return out.String(), nil
}

// apiKey returns the dev key kept in .dev/api-key while it still
// authenticates against this database, or creates and keeps a new one.
func (d *devrun) apiKey(ctx context.Context) (string, error) {
	path := filepath.Join(d.dev, "api-key")
	if b, err := os.ReadFile(path); err == nil {
		key := strings.TrimSpace(string(b))
		ok, err := authenticates(ctx, d.dbURL, key)
		if err != nil {
			return "", err
		}
		if ok {
			logf("reusing the API key in .dev/api-key")
			return key, nil
		}
		logf("the key in .dev/api-key does not authenticate against this database; creating a new one")
	}
	out, err := d.meeboter(ctx, "apikey", "create", "--owner", "dev", "--name", "make-run")
	if err != nil {
		return "", err
	}
	key, err := parseKey(out)
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", err
	}
	return key, os.Chmod(path, 0o600) // WriteFile keeps the mode of an existing file
}

// authenticates reports whether key is a valid, unrevoked key in the database.
func authenticates(ctx context.Context, dbURL, key string) (bool, error) {
	if !strings.HasPrefix(key, store.APIKeyPrefix) {
		return false, nil
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return false, fmt.Errorf("DATABASE_URL: %w", err)
	}
	defer pool.Close()
	_, err = store.New(pool, nil).AuthenticateAPIKey(ctx, key)
	if errors.Is(err, store.ErrUnauthenticated) {
		return false, nil
	}
	return err == nil, err
}

// parseKey finds the "key: mb_…" line of `meeboter apikey create`.
func parseKey(out string) (string, error) {
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "key: "); ok {
			if v = strings.TrimSpace(v); strings.HasPrefix(v, store.APIKeyPrefix) {
				return v, nil
			}
		}
	}
	return "", fmt.Errorf("no key line in the output of apikey create:\n%s", out)
}

// serveEnv is our environment plus the database and devrun's defaults.
func (d *devrun) serveEnv() []string {
	env := setEnv(os.Environ(), "DATABASE_URL", d.dbURL)
	env = defaultEnv(env, "HTTP_ADDR", defaultHTTPAddr)
	env = defaultEnv(env, "LOG_FORMAT", "console")
	env = defaultEnv(env, "LOCAL_STATE_DIR", filepath.Join(d.dev, "local"))
	env = defaultEnv(env, "WEBHOOK_SECRET", d.hookSecret)
	env = defaultEnv(env, "OPERATOR_TOKEN", d.opToken)
	// A developer's receivers run on this machine.
	env = defaultEnv(env, "CALLBACK_ALLOW", "127.0.0.0/8,::1,localhost")
	env = d.s3.serveEnv(env)
	if d.sim != nil {
		return d.sim.serveEnv(env)
	}
	return defaultEnv(env, "DEPLOYMENT_PLATFORM", "local")
}

// setEnv returns env with key set to value, replacing earlier settings.
func setEnv(env []string, key, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return append(out, key+"="+value)
}

// defaultEnv sets key unless env has a non-blank value for it.
func defaultEnv(env []string, key, value string) []string {
	if strings.TrimSpace(lookupEnv(env, key)) != "" {
		return env
	}
	return setEnv(env, key, value)
}

func lookupEnv(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if rest, ok := strings.CutPrefix(kv, key+"="); ok {
			v = rest // the last one wins, as for exec
		}
	}
	return v
}

// serve creates the key, runs meeboter serve until a signal or its exit, and
// returns the exit code.
func (d *devrun) serve(ctx context.Context) int {
	key, err := d.apiKey(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return 0
		}
		logf("%v", err)
		return 1
	}
	env := d.serveEnv()
	addr, err := dialAddr("HTTP_ADDR", lookupEnv(env, "HTTP_ADDR"))
	if err != nil {
		logf("%v", err)
		return 1
	}
	opAddr, err := dialAddr("METRICS_ADDR", cmp.Or(strings.TrimSpace(lookupEnv(env, "METRICS_ADDR")), config.DefaultMetricsAddr))
	if err != nil {
		logf("%v", err)
		return 1
	}
	cmd := exec.Command(filepath.Join(d.bin, "meeboter"), "serve") //nolint:gosec // our own binary
	cmd.Dir = d.root
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = serveProcAttr()
	exited, err := start(cmd)
	if err != nil {
		logf("start meeboter serve: %v", err)
		return 1
	}
	if err := waitReady(ctx, addr, exited); err != nil {
		if errors.Is(err, errExited) {
			return serveExited(cmd)
		}
		if ctx.Err() == nil {
			logf("%v", err)
			stopServe(cmd, exited)
			return 1
		}
	} else {
		printBanner(d.stdout, banner{addr: addr, key: key, operatorAddr: opAddr, operatorToken: lookupEnv(env, "OPERATOR_TOKEN")})
	}
	select {
	case <-ctx.Done():
		logf("stopping meeboter serve")
		stopServe(cmd, exited)
		return 0
	case <-exited:
		return serveExited(cmd)
	}
}

// dialAddr turns a listen address (named name) into one to reach it at.
func dialAddr(name, listenAddr string) (string, error) {
	host, port, err := net.SplitHostPort(listenAddr)
	if err != nil || port == "" || port == "0" {
		return "", fmt.Errorf("%s: want host:port with a fixed port, got %q", name, listenAddr)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// start starts cmd and returns a channel closed once it has exited. The
// process is started and waited for on one locked thread: the parent-death
// signal fires when the thread that forked the child exits.
func start(cmd *exec.Cmd) (<-chan struct{}, error) {
	exited := make(chan struct{})
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		_ = cmd.Wait() // the code is in cmd.ProcessState
		close(exited)
	}()
	return exited, <-started
}

var errExited = errors.New("meeboter serve exited")

// waitReady polls GET /readyz until it answers 200.
func waitReady(ctx context.Context, addr string, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	url := "http://" + addr + "/readyz"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return errExited
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s: %w", url, readyTimeout, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// banner is what printBanner tells.
type banner struct {
	addr, key                   string // the API's and a key for it
	operatorAddr, operatorToken string // METRICS_ADDR's and the River UI's password
}

// printBanner tells how to use the running API and the River UI, in one write.
func printBanner(w io.Writer, b banner) {
	addr, key := b.addr, b.key
	base := "http://" + addr
	auth := `-H "Authorization: Bearer $MEEBOTER_API_KEY"`
	lines := []string{
		"API: " + base,
		"MEEBOTER_API_KEY=" + key,
		"# create a bot (export the key first):",
		"export MEEBOTER_API_KEY=" + key,
		"curl -sS -X POST " + base + "/api/v1/bots " + auth + ` -H 'Content-Type: application/json' -d '{"meeting_url":"https://meet.google.com/abc-defg-hij","bot_name":"Demo bot","metadata":{"simulate":{"call_seconds":15}}}'`,
		"# watch it (<id> is the id in the answer):",
		"curl -sS " + base + "/api/v1/bots/<id> " + auth,
		"# with a recording (add \"recording\":{\"enabled\":true} to the create), once it is DONE:",
		"curl -sS " + base + "/api/v1/bots/<id>/recording " + auth,
		"# River UI (any user name; the password is OPERATOR_TOKEN):",
		"http://" + b.operatorAddr + "/riverui/   password: " + b.operatorToken,
		"# Ctrl-C stops the server, the dev Postgres and the dev S3",
	}
	fmt.Fprint(w, strings.Join(lines, "\n")+"\n")
}

// stopServe sends SIGTERM and kills serve if it has not exited after stopGrace.
func stopServe(cmd *exec.Cmd, exited <-chan struct{}) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		return
	case <-time.After(stopGrace):
	}
	logf("meeboter serve ignored SIGTERM for %s; killing it", stopGrace)
	_ = cmd.Process.Kill()
	<-exited
}

// serveExited reports an exit of serve on its own and returns its code.
func serveExited(cmd *exec.Cmd) int {
	logf("meeboter serve exited on its own: %s", cmd.ProcessState)
	if code := cmd.ProcessState.ExitCode(); code >= 0 {
		return code
	}
	return 1 // killed by a signal
}
