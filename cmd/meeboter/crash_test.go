package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// fleet creates bots, checks the invariants while they run and after.
type fleet struct {
	s        *system
	mu       sync.Mutex
	accepted []string // bot ids the API answered 2xx for
	// violations of "at most one live workload per bot", seen by sampling
	violations atomic.Int32
	samples    atomic.Int32
}

// createWithRetry creates a bot through whichever address answers, retrying
// with the same Idempotency-Key until it is accepted (controllers may be
// down): an accepted request must never be lost, nor doubled.
func (f *fleet) createWithRetry(ctx context.Context, addrs []string, key string, body map[string]any) {
	for i := 0; ctx.Err() == nil; i++ {
		var b botView
		code, err := f.s.api(addrs[i%len(addrs)], http.MethodPost, "/api/v1/bots", body, &b, "Idempotency-Key", key)
		if err == nil && code == http.StatusCreated {
			f.mu.Lock()
			f.accepted = append(f.accepted, b.ID)
			f.mu.Unlock()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sample checks invariant 1 on the live processes until ctx ends.
func (f *fleet) sample(ctx context.Context) {
	for ctx.Err() == nil {
		perBot := map[string][]string{}
		for name, n := range f.s.botProcesses() {
			for range n {
				perBot[botOf(name)] = append(perBot[botOf(name)], name)
			}
		}
		for id, names := range perBot {
			if len(names) > 1 {
				f.violations.Add(1)
				f.s.t.Errorf("bot %s has %d live processes: %v", id, len(names), names)
			}
		}
		f.samples.Add(1)
		time.Sleep(100 * time.Millisecond)
	}
}

// checkConverged asserts invariants 2-4 once the system has settled.
func (f *fleet) checkConverged(t *testing.T, addr string, timeout time.Duration) map[string]int {
	t.Helper()
	f.mu.Lock()
	ids := append([]string(nil), f.accepted...)
	f.mu.Unlock()
	outcomes := map[string]int{}
	deadline := time.Now().Add(timeout)
	for _, id := range ids {
		b := f.s.waitStatus(addr, id, time.Until(deadline), "DONE", "FATAL")
		require.NotNil(t, b.StatusReason, "bot %s is terminal without a reason", id)
		require.NotEmpty(t, *b.StatusReason)
		outcomes[b.Status+"/"+*b.StatusReason]++
	}
	require.Eventually(t, func() bool { return len(f.s.botProcesses()) == 0 }, 2*time.Minute, 100*time.Millisecond,
		"bot processes left after every bot ended: %v", f.s.botProcesses())
	conn, err := pgx.Connect(context.Background(), f.s.dbURL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var bots, live int
	require.NoError(t, conn.QueryRow(context.Background(), `SELECT count(*) FROM bots`).Scan(&bots))
	require.Equal(t, len(ids), bots, "every accepted bot exists exactly once")
	require.Eventually(t, func() bool {
		require.NoError(t, conn.QueryRow(context.Background(), `SELECT count(*) FROM deployments WHERE state <> 'GONE'`).Scan(&live))
		return live == 0
	}, 2*time.Minute, 100*time.Millisecond, "deployments still live after convergence") // a job a killed serve left running waits for River's rescue
	return outcomes
}

// crashRun is one crash test: bots created at random moments over spread,
// with call lengths from minCall to minCall+callRange seconds, while serve is
// SIGKILLed and restarted crashes times at random moments.
type crashRun struct {
	bots, crashes        int
	spread               time.Duration
	minCall, callRange   float64
	minUp, upRange, down time.Duration
}

// run returns the controller running at the end.
func (r crashRun) run(t *testing.T, f *fleet, addr string, logs *lockedBuffer, c *controller) *controller {
	t.Helper()
	var creators sync.WaitGroup
	createCtx, cancelCreate := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancelCreate()
	for i := range r.bots {
		creators.Go(func() {
			time.Sleep(time.Duration(rand.Int64N(int64(r.spread))))
			f.createWithRetry(createCtx, []string{addr}, fmt.Sprintf("%s-%d", t.Name(), i),
				simulate(map[string]any{"call_seconds": r.minCall + rand.Float64()*r.callRange}))
		})
	}
	for i := range r.crashes {
		time.Sleep(r.minUp + time.Duration(rand.Int64N(int64(r.upRange))))
		c.kill()
		time.Sleep(time.Duration(rand.Int64N(int64(r.down))))
		c = f.s.start(addr, logs)
		t.Logf("crash %d/%d: killed and restarted serve", i+1, r.crashes)
	}
	creators.Wait()
	return c
}

// TestCrashRecovery SIGKILLs `meeboter serve` at random moments while 60
// bots run on the local platform, restarts it each time, and checks DESIGN
// §11 invariants 1-5.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test: run without -short")
	}
	t.Parallel()
	s := newSystem(t, "LOCAL_BOT_LIMIT=40")
	f := &fleet{s: s}
	addr := freeAddr(t)
	logs := &lockedBuffer{}
	c := s.start(addr, logs)
	ctx, stopSampling := context.WithCancel(context.Background())
	go f.sample(ctx)

	const bots, iterations = 60, 6
	c = crashRun{bots: bots, crashes: iterations, spread: 8 * time.Second, minCall: 2, callRange: 6,
		minUp: 500 * time.Millisecond, upRange: 2500 * time.Millisecond, down: time.Second}.run(t, f, addr, logs, c)
	outcomes := f.checkConverged(t, addr, 3*time.Minute)
	stopSampling()
	require.Zero(t, f.violations.Load())
	require.Len(t, f.accepted, bots, "every create was eventually accepted")
	t.Logf("crash test: %d crashes, %d bots, outcomes %v, %d process samples without a duplicate",
		iterations, bots, outcomes, f.samples.Load())
	c.stop(t)
}

// TestTwoReplicas runs two `serve` processes on one database: every bot is
// served exactly once, whichever replica took the request.
func TestTwoReplicas(t *testing.T) {
	if testing.Short() {
		t.Skip("replica test: run without -short")
	}
	t.Parallel()
	s := newSystem(t, "LOCAL_BOT_LIMIT=20")
	f := &fleet{s: s}
	addrs := []string{freeAddr(t), freeAddr(t)}
	a, b := s.start(addrs[0], &lockedBuffer{}), s.start(addrs[1], &lockedBuffer{})
	ctx, stopSampling := context.WithCancel(context.Background())
	go f.sample(ctx)
	var creators sync.WaitGroup
	for i := range 30 {
		creators.Go(func() {
			f.createWithRetry(context.Background(), addrs[i%2:i%2+1], fmt.Sprintf("replica-%d", i),
				simulate(map[string]any{"call_seconds": 1 + rand.Float64()*2}))
		})
	}
	creators.Wait()
	outcomes := f.checkConverged(t, addrs[0], 2*time.Minute)
	stopSampling()
	require.Equal(t, map[string]int{"DONE/completed": 30}, outcomes)
	require.Zero(t, f.violations.Load())
	a.stop(t)
	b.stop(t)
}
