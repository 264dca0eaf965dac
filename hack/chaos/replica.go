package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// replica is one `meeboter serve` slot: its addresses stay, its process
// (an incarnation) comes and goes.
type replica struct {
	name                  string // r1, r2, …
	httpAddr, metricsAddr string
	logDir                string

	mu          sync.Mutex
	incarnation int
	id          string // REPLICA_ID of the running incarnation
	proc        *child
	killed      bool // the runner killed the running incarnation
}

// replicaReadyTimeout bounds a start, including a Postgres outage.
const replicaReadyTimeout = 90 * time.Second

func newReplica(i int, logDir string) (*replica, error) {
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	metricsAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	return &replica{name: "r" + strconv.Itoa(i+1), httpAddr: httpAddr, metricsAddr: metricsAddr, logDir: logDir}, nil
}

// start runs a new incarnation with env (plus its own addresses and
// REPLICA_ID) and returns once it has started; ready waits for /readyz.
func (r *replica) start(bin string, env []string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.incarnation++
	r.id = fmt.Sprintf("%s-%d", r.name, r.incarnation)
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(append([]string{}, env...), "HTTP_ADDR="+r.httpAddr, "METRICS_ADDR="+r.metricsAddr, "REPLICA_ID="+r.id)
	proc, err := startChild(cmd, filepath.Join(r.logDir, r.id+".log"))
	if err != nil {
		return err
	}
	r.proc, r.killed = proc, false
	return nil
}

// current returns the running incarnation's id and process.
func (r *replica) current() (string, *child) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.id, r.proc
}

// kill SIGKILLs the running incarnation and returns its id.
func (r *replica) kill() string {
	r.mu.Lock()
	r.killed = true
	id, proc := r.id, r.proc
	r.mu.Unlock()
	proc.kill()
	return id
}

// killedByRunner reports whether the runner killed incarnation id.
func (r *replica) killedByRunner(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.id != id || r.killed
}

// ready waits until the incarnation answers /readyz 200.
func (r *replica) ready(ctx context.Context) error {
	_, proc := r.current()
	ctx, cancel := context.WithTimeout(ctx, replicaReadyTimeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		if r.probe(ctx, client, "http://"+r.httpAddr+"/readyz") {
			return nil
		}
		select {
		case <-proc.exited:
			return fmt.Errorf("replica %s exited while starting (%s); log %s", r.name, proc.exitDescription(), proc.log.Name())
		case <-ctx.Done():
			return fmt.Errorf("replica %s not ready: %w", r.name, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (r *replica) probe(ctx context.Context, client *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
	if err != nil {
		return false
	}
	res, err := client.Do(req)
	if err != nil {
		return false
	}
	_ = res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// leader scrapes the replica's meeboter_leader gauge.
func (r *replica) leader(ctx context.Context, client *http.Client) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.metricsAddr+"/metrics", http.NoBody)
	if err != nil {
		return false, err
	}
	res, err := client.Do(req)
	if err != nil {
		return false, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return false, fmt.Errorf("/metrics: %s", res.Status)
	}
	return leaderGauge(bufio.NewScanner(res.Body))
}

// leaderGauge finds `meeboter_leader <v>` in Prometheus text.
func leaderGauge(sc *bufio.Scanner) (bool, error) {
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "meeboter_leader "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			return err == nil && f == 1, err
		}
	}
	if err := sc.Err(); err != nil {
		return false, err
	}
	return false, fmt.Errorf("no meeboter_leader in /metrics")
}

// freeAddr is a free loopback address.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
