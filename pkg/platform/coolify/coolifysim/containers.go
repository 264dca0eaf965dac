package coolifysim

import (
	"context"
	"maps"
	"time"

	"github.com/meeboter/meeboter/pkg/platform/simcontainer"
)

// cstate is a container's Docker state as far as Coolify can tell.
type cstate int

const (
	cCreated    cstate = iota // docker compose up is creating it
	cRunning                  // its process runs
	cStopping                 // docker stop sent; still "running" until it exits
	cRestarting               // exited; unless-stopped restarts it after a backoff
	cExited                   // exited and left for Coolify to remove (restart limit)
	cRemoved                  // gone
)

const (
	// maxRestartBackoff and restartBackoffReset are Docker's: the delay
	// doubles up to a minute, and a container that ran 10 s starts over.
	maxRestartBackoff   = time.Minute
	restartBackoffReset = 10 * time.Second
	// killSlack is how long after the grace period a stopping container
	// whose Workload ignores its context is given up for removed.
	killSlack = time.Second
)

// container is one Docker container of an application, running the
// Workload with the environment its deployment wrote into .env.
type container struct {
	app         *app
	image       string
	env         map[string]string
	grace       time.Duration
	healthcheck bool
	state       cstate
	restarts    int // Docker's RestartCount
	// run numbers the Workload runs: a run that returns after the container
	// was crashed, vanished or restarted is stale and ignored.
	run       int
	cancel    context.CancelCauseFunc
	startedAt time.Time
	backoff   time.Duration
	onRemoved []func()
}

// newContainer creates a deployment's container with the app's environment
// and settings of now.
func (s *Sim) newContainer(a *app, image string, env map[string]string) *container {
	healthcheck, _ := a.cols["health_check_enabled"].(bool)
	return &container{app: a, image: image, env: env, grace: a.stopGrace(), healthcheck: healthcheck, state: cCreated}
}

// launch starts a Workload run of c.
func (s *Sim) launch(c *container) {
	c.run++
	run := c.run
	c.state = cRunning
	c.startedAt = s.now()
	c.app.starts++
	s.stats.workloadStarts++
	if s.closed {
		return
	}
	ctx, cancel := context.WithCancelCause(s.baseCtx)
	ctx = simcontainer.WithStopGrace(ctx, c.grace)
	c.cancel = cancel
	env := maps.Clone(c.env)
	wl := s.workload
	s.workloads.Add(1)
	go func() {
		defer s.workloads.Done()
		code := wl(ctx, env)
		cancel(nil)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.advance() // what was due happened before this exit
		s.workloadReturned(c, run, code)
	}()
}

// workloadReturned handles the end of a Workload run.
func (s *Sim) workloadReturned(c *container, run, code int) {
	if c.run != run || c.state == cRemoved {
		return
	}
	if c.state == cStopping {
		s.removeContainer(c)
		return
	}
	s.containerDied(c, code)
}

// containerDied applies the restart policy to a container whose process
// exited on its own (or was killed): unless-stopped restarts it after a
// backoff; when its RestartCount reaches max_restart_count, Coolify's status
// job stops and removes it instead, keeping the counters so the reason shows.
func (s *Sim) containerDied(c *container, code int) {
	a := c.app
	now := s.now()
	c.cancel = nil
	a.lastExitCode = &code
	if c.backoff == 0 || now.Sub(c.startedAt) >= restartBackoffReset {
		c.backoff = s.cfg.RestartDelay
	} else {
		c.backoff = min(2*c.backoff, maxRestartBackoff)
	}
	s.log.Debug("container exited", "app", a.uuid, "code", code, "restarts", c.restarts)
	if limit := a.maxRestartCount(); limit > 0 && c.restarts+1 >= limit {
		c.restarts++
		a.restartCount, a.lastRestartAt, a.lastRestartType = c.restarts, now, "crash"
		c.state = cExited
		s.recordStatus(a)
		s.after(c.backoff, func() {
			if c.state == cExited {
				s.log.Debug("restart limit reached: application stopped", "app", a.uuid)
				s.removeContainer(c)
			}
		})
		return
	}
	c.state = cRestarting
	s.recordStatus(a)
	s.after(c.backoff, func() {
		if c.state != cRestarting {
			return
		}
		c.restarts++
		a.restartCount, a.lastRestartAt, a.lastRestartType = c.restarts, s.now(), "crash"
		s.launch(c)
		s.recordStatus(a)
	})
}

// stopContainer is docker stop -t <grace> + docker rm -f: the Workload's
// context is cancelled with ErrStopped and the container is removed when it
// returns, or when the grace period is over. then runs once it is removed.
func (s *Sim) stopContainer(c *container, then func()) {
	switch c.state {
	case cRemoved:
		then()
	case cStopping:
		c.onRemoved = append(c.onRemoved, then)
	case cRunning:
		c.state = cStopping
		c.onRemoved = append(c.onRemoved, then)
		if c.cancel != nil {
			c.cancel(ErrStopped)
		}
		run := c.run
		s.after(c.grace+killSlack, func() {
			if c.state == cStopping && c.run == run {
				c.run++ // SIGKILL: whatever the Workload does now is stale
				s.removeContainer(c)
			}
		})
		if s.closed {
			s.removeContainer(c) // nothing will come back
		}
	default: // created, restarting, exited: no process to wait for
		s.removeContainer(c)
		then()
	}
}

// removeContainer takes c off the server.
func (s *Sim) removeContainer(c *container) {
	if c.state == cRemoved {
		return
	}
	c.state = cRemoved
	if c.cancel != nil {
		c.cancel(ErrStopped)
		c.cancel = nil
	}
	a := c.app
	if a.cur == c {
		a.cur = nil
	}
	if a.next == c {
		a.next = nil
	}
	s.recordStatus(a)
	callbacks := c.onRemoved
	c.onRemoved = nil
	for _, f := range callbacks {
		f()
	}
}

// stopApplicationNow is StopApplication: every container of the app is
// stopped and removed, status becomes exited; an API stop also resets the
// restart counters. then runs when it is done.
func (s *Sim) stopApplicationNow(a *app, resetCounters bool, then func()) {
	finish := func() {
		if resetCounters {
			a.restartCount, a.lastRestartAt, a.lastRestartType = 0, time.Time{}, ""
		}
		s.recordStatus(a)
		if then != nil {
			then()
		}
	}
	cs := a.containers()
	if len(cs) == 0 {
		finish()
		return
	}
	pending := len(cs)
	for _, c := range cs {
		s.stopContainer(c, func() {
			pending--
			if pending == 0 {
				finish()
			}
		})
	}
}

// cleanupImages is CleanupDocker after a stop or delete with
// docker_cleanup: images no container runs and no application references are
// pruned, so their next start is cold again.
func (s *Sim) cleanupImages() {
	used := map[string]bool{}
	for _, a := range s.apps {
		used[a.imageRef()] = true
		for _, c := range a.containers() {
			used[c.image] = true
		}
	}
	for img := range s.images {
		if !used[img] {
			delete(s.images, img)
		}
	}
}

// crash kills the app's running container with exitCode; the restart
// policy takes it from there.
func (s *Sim) crash(uuid string, exitCode int) error {
	a := s.liveApp(uuid)
	if a == nil {
		return errNoApp
	}
	c := a.cur
	if c == nil || c.state != cRunning {
		return errNotRunning
	}
	c.run++
	if c.cancel != nil {
		c.cancel(ErrCrashed)
	}
	s.containerDied(c, exitCode)
	return nil
}

// vanish removes the app's container behind Coolify's back: no stop, no
// restart, the status job just finds nothing.
func (s *Sim) vanish(uuid string) error {
	a := s.liveApp(uuid)
	if a == nil {
		return errNoApp
	}
	c := a.cur
	if c == nil {
		return errNotRunning
	}
	c.run++
	if c.cancel != nil {
		c.cancel(ErrVanished)
		c.cancel = nil
	}
	s.removeContainer(c)
	return nil
}
