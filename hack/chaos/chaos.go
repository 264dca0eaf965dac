package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// chaos is one run: the system, the runner's views of it, and what the
// checks collect.
type chaos struct {
	opts  options
	out   io.Writer
	start time.Time
	runID string
	rng   *lockedRand
	sys   *system
	plans []plan

	api     *apiClient
	tracker *tracker
	witness *witness
	leaders *leaderWatch
	sampler *sampler
	viol    *violations
	faults  *faultLog
	kills   *killLog
	pg      *pgRestart
	acts    actionLog

	background sync.WaitGroup
	created    atomic.Int64
}

func newChaos(o options, out io.Writer) *chaos {
	c := &chaos{opts: o, out: out, runID: strconv.FormatInt(o.seed, 36), rng: newLockedRand(o.seed),
		witness: newWitness(), viol: newViolations(), faults: &faultLog{}, kills: &killLog{}, pg: &pgRestart{}}
	c.plans = planBots(c.rng.rng, o.bots, o)
	c.sys = &system{}
	return c
}

// logf prints a line stamped with the time since the run started.
func (c *chaos) logf(format string, args ...any) {
	elapsed := time.Duration(0)
	if !c.start.IsZero() {
		elapsed = time.Since(c.start).Truncate(time.Second)
	}
	fmt.Fprintf(c.out, "[%5s] %s\n", elapsed, fmt.Sprintf(format, args...))
}

// run is a whole run: set up, the chaos phase, the drain, the checks.
// The error is for a run that could not be carried out; violations are in
// the report.
func run(ctx context.Context, o options, out io.Writer) (*report, error) {
	c := newChaos(o, out)
	dir, cleanup, err := workDir(o)
	if err != nil {
		return nil, err
	}
	c.sys.dir = dir
	c.logf("chaos run %s: %d bots over %s, %d replicas, seed %d, work dir %s", c.runID, o.bots, o.duration, o.replicas, o.seed, dir)
	rep, err := c.execute(ctx)
	keep := o.keep || err != nil || (rep != nil && len(rep.Violations) > 0)
	if keep {
		c.logf("logs and state kept in %s", dir)
	} else {
		cleanup()
	}
	return rep, err
}

func (c *chaos) execute(ctx context.Context) (*report, error) {
	defer c.sys.tearDown()
	if err := c.bringUp(ctx); err != nil {
		return nil, err
	}
	c.api = &apiClient{base: c.sys.proxy.url, key: c.sys.apiKey, http: &http.Client{Timeout: 20 * time.Second}}
	c.tracker = newTracker(c.api, c.plans)
	c.leaders = newLeaderWatch(c.sys.replicas)
	c.sampler = newSampler(c)
	bgCtx, stopBackground := context.WithCancel(ctx)
	c.startBackground(bgCtx)
	defer func() {
		stopBackground()
		c.background.Wait()
	}()
	if err := c.leaders.waitLeader(ctx, time.Now(), 60*time.Second); err != nil {
		c.viol.add(kindLeaderGap, "no leader within 60 s of start")
	}
	c.start = time.Now()
	c.chaosPhase(ctx)
	c.drain(ctx)
	c.settle(ctx)
	if ctx.Err() != nil {
		return nil, fmt.Errorf("interrupted: %w", ctx.Err())
	}
	rep := c.check(ctx)
	return rep, c.writeReport(rep)
}

// startBackground starts the observers that run until the checks are
// done: the tracker (and the plans' stop actions), the workload sampler,
// the leader watch, the progress line.
func (c *chaos) startBackground(ctx context.Context) {
	c.background.Go(func() {
		for ctx.Err() == nil {
			if c.tracker.poll(ctx) == nil {
				c.actOnPlans(ctx)
			}
			sleepCtx(ctx, time.Second)
		}
	})
	c.background.Go(func() { c.sampler.run(ctx, 2*time.Second) })
	c.background.Go(func() { c.leaders.run(ctx, 500*time.Millisecond) })
	c.background.Go(func() { c.progress(ctx, 10*time.Second) })
}

// chaosPhase creates the bots while killing replicas, opening fault
// windows, aiming injections and restarting Postgres; it returns once
// every planned bot has been created (or given up on) and the phase's
// time is over.
func (c *chaos) chaosPhase(ctx context.Context) {
	phase, cancel := context.WithTimeout(ctx, c.opts.duration)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { c.createBots(ctx, phase) })
	wg.Go(func() { c.killLoop(ctx, phase) })
	wg.Go(func() { c.openFaultWindows(phase) })
	if c.opts.injections {
		wg.Go(func() { c.injectFaults(phase) })
	}
	if c.opts.pgRestart {
		wg.Go(func() { c.restartPostgres(ctx, phase) })
	}
	<-phase.Done()
	c.logf("chaos phase over: no more kills, faults or injections")
	wg.Wait()
}

// launch starts a replica incarnation and watches it: one that exits
// without being killed by the runner is a violation, and is started again
// so the run can go on.
func (c *chaos) launch(r *replica) error {
	if err := r.start(c.sys.bins.meeboter, c.sys.env); err != nil {
		return err
	}
	id, proc := r.current()
	go func() {
		<-proc.exited
		if r.killedByRunner(id) {
			return
		}
		c.viol.add(kindReplicaExited, "%s exited on its own (%s); log %s", id, proc.exitDescription(), proc.log.Name())
		c.logf("replica %s exited on its own (%s): restarting it", id, proc.exitDescription())
		if err := c.launch(r); err == nil {
			_ = r.ready(context.Background())
		}
	}()
	return nil
}

// workDir is o.workDir or a new temporary directory; cleanup removes it.
func workDir(o options) (dir string, cleanup func(), err error) {
	if o.workDir != "" {
		return o.workDir, func() {}, os.MkdirAll(o.workDir, 0o755)
	}
	dir, err = os.MkdirTemp("", "meeboter-chaos-")
	return dir, func() { _ = os.RemoveAll(dir) }, err
}
