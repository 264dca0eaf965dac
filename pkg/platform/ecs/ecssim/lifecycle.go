package ecssim

import (
	"context"
	"errors"
	"maps"

	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/meeboter/meeboter/pkg/platform/simcontainer"
)

// The lifecycle. Every step is an event on the simulator's clock; each
// checks the task is still where it expects it, so a stop that overtook a
// pending step makes that step a no-op.
//
//	PROVISIONING → PENDING → (ACTIVATING) → RUNNING → (DEACTIVATING) →
//	STOPPING → DEPROVISIONING → STOPPED → forgotten after StoppedRetention
//
// desiredStatus is RUNNING until StopTask, the essential container's exit,
// a failure to start or an external stop (Spot interruption) makes it
// STOPPED; the way down starts from wherever the task is.

var errStartFailed = errors.New("start failed")

// provision schedules a new task's way up.
func (s *Sim) provision(t *task) {
	s.after(s.knobs.delays.Provisioning, func() {
		if t.lastStatus != statusProvisioning || t.desiredStatus != statusRunning {
			return
		}
		t.attachmentStatus = "ATTACHED"
		t.pullStartedAt = s.now()
		s.setStatus(t, statusPending)
		s.after(s.knobs.delays.Pending, func() { s.pulled(t) })
	})
}

// pulled ends PENDING: the image is there and the container starts, unless
// a start failure is due.
func (s *Sim) pulled(t *task) {
	if t.lastStatus != statusPending || t.desiredStatus != statusRunning {
		return
	}
	t.pullStoppedAt = s.now()
	if s.knobs.startFailures > 0 {
		s.knobs.startFailures--
		t.containerReason = s.knobs.startFailureReason
		s.beginStop(t, types.TaskStopCodeTaskFailedToStart, s.knobs.startFailureReason, errStartFailed)
		return
	}
	if d := s.knobs.delays.Activating; d > 0 {
		s.setStatus(t, statusActivating)
		s.after(d, func() {
			if t.lastStatus == statusActivating && t.desiredStatus == statusRunning {
				s.started(t)
			}
		})
		return
	}
	s.started(t)
}

// started makes t RUNNING and launches its Workload.
func (s *Sim) started(t *task) {
	now := s.now()
	t.startedAt, t.connectivityAt = now, now
	t.containerStatus = statusRunning
	t.runtimeID = t.id + "-" + randomString(s.rng, 10, "0123456789")
	s.setStatus(t, statusRunning)
	s.launch(t)
}

// launch starts a Workload run for t's container.
func (s *Sim) launch(t *task) {
	t.run++
	run := t.run
	t.running = true
	s.stats.workloadStarts++
	if s.closed {
		return
	}
	ctx, cancel := context.WithCancelCause(s.baseCtx)
	ctx = simcontainer.WithStopGrace(ctx, s.cfg.StopTimeout)
	t.cancel = cancel
	env := maps.Clone(t.env)
	wl := s.workload
	s.workloads.Add(1)
	go func() {
		defer s.workloads.Done()
		code := wl(ctx, env)
		cancel(nil)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.advance() // what was due happened before this exit
		s.workloadReturned(t, run, code)
	}()
}

// workloadReturned handles the container's exit.
func (s *Sim) workloadReturned(t *task, run, code int) {
	if t.run != run || !t.running {
		return // killed, crashed or vanished meanwhile
	}
	s.containerExited(t, code)
	if t.desiredStatus == statusRunning {
		s.beginStop(t, types.TaskStopCodeEssentialContainerExited, reasonEssentialExited, nil)
		return
	}
	if t.lastStatus == statusStopping {
		s.after(s.knobs.delays.Stop/2, func() { s.deprovision(t) })
	}
}

// containerExited records the container's end with exit code code.
func (s *Sim) containerExited(t *task, code int) {
	t.running = false
	t.cancel = nil
	t.exitCode = &code
	t.containerStatus = statusStopped
	t.executionStoppedAt = s.now()
	t.version++
}

// beginStop sets desiredStatus STOPPED with the stop code and reason (the
// first stop wins) and starts the way down. ECS deletes a task's tags when
// it is stopped; the simulator does so for every stop, so nothing can find
// a stopped task by tag. cause is what a running Workload's context is
// cancelled with.
func (s *Sim) beginStop(t *task, code TaskStopCode, reason string, cause error) {
	if t.desiredStatus == statusStopped || t.removed {
		return
	}
	t.desiredStatus = statusStopped
	t.stopCode = code
	t.stoppedReason = reason
	t.tags = nil
	t.stoppingAt = s.now()
	t.version++
	if d := s.knobs.delays.Activating; d > 0 && (t.lastStatus == statusRunning || t.lastStatus == statusActivating) {
		s.setStatus(t, statusDeactivating)
		s.after(d, func() { s.stopping(t, cause) })
		return
	}
	s.stopping(t, cause)
}

// stopping is STOPPING: docker stop on a running container (SIGTERM, then
// SIGKILL after StopTimeout), or straight on when there is none.
func (s *Sim) stopping(t *task, cause error) {
	if t.removed {
		return
	}
	s.setStatus(t, statusStopping)
	if !t.running {
		if t.containerStatus != statusStopped {
			t.containerStatus = statusStopped
			t.executionStoppedAt = s.now()
		}
		s.after(s.knobs.delays.Stop/2, func() { s.deprovision(t) })
		return
	}
	if cause == nil {
		cause = ErrStopped
	}
	if t.cancel != nil {
		t.cancel(cause)
	}
	run := t.run
	s.after(s.cfg.StopTimeout, func() {
		if t.run == run && t.running && !t.removed {
			t.run++ // SIGKILL: whatever the Workload does now is stale
			s.containerExited(t, 137)
			s.after(s.knobs.delays.Stop/2, func() { s.deprovision(t) })
		}
	})
	if s.closed {
		t.run++
		s.containerExited(t, 137)
		s.deprovision(t)
	}
}

// deprovision is DEPROVISIONING: the ENI is detached.
func (s *Sim) deprovision(t *task) {
	if t.removed || t.lastStatus != statusStopping {
		return
	}
	t.attachmentStatus = "DELETED"
	s.setStatus(t, statusDeprovisioning)
	s.after(s.knobs.delays.Stop-s.knobs.delays.Stop/2, func() {
		if t.removed || t.lastStatus != statusDeprovisioning {
			return
		}
		t.stoppedAt = s.now()
		s.setStatus(t, statusStopped)
		s.after(s.cfg.StoppedRetention, func() { s.forget(t) })
	})
}

// forget drops t from what ECS knows: DescribeTasks says MISSING, StopTask
// says it is not found.
func (s *Sim) forget(t *task) {
	if t.removed {
		return
	}
	t.removed = true
	delete(s.tasks, t.id)
}

// crash kills t's running container with exitCode, as an OOM kill would:
// the task stops with EssentialContainerExited.
func (s *Sim) crash(t *task, exitCode int) error {
	if !t.running {
		return errors.New("task has no running container")
	}
	t.run++
	if t.cancel != nil {
		t.cancel(ErrCrashed)
	}
	s.containerExited(t, exitCode)
	if t.desiredStatus == statusRunning {
		s.beginStop(t, types.TaskStopCodeEssentialContainerExited, reasonEssentialExited, ErrCrashed)
	} else if t.lastStatus == statusStopping {
		s.after(s.knobs.delays.Stop/2, func() { s.deprovision(t) })
	}
	return nil
}

// vanish makes t disappear without a trace, its container killed.
func (s *Sim) vanish(t *task) {
	t.run++
	if t.cancel != nil {
		t.cancel(ErrVanished)
		t.cancel = nil
	}
	t.running = false
	if t.lastStatus == statusRunning {
		s.stats.running--
	}
	if t.lastStatus != statusStopped {
		s.stats.active--
	}
	t.vanished = true
	s.forget(t)
}
