package pool

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/meeboter/meeboter/pkg/store"
)

// SpecHash identifies a slot spec (image, tag, limits).
func SpecHash(s AppSpec) string {
	sum := sha256.Sum256([]byte(strings.Join([]string{s.Image, s.Tag, s.LimitsCPUs, s.LimitsMemory}, "\x00")))
	return hex.EncodeToString(sum[:8])
}

// step moves one slot one step; changed reports whether it wrote anything.
func (p *Pool) step(ctx context.Context, ps *pass, slot store.PoolSlot, app App, listed bool, idle map[string]int) (bool, error) {
	switch slot.State {
	case store.SlotCreating:
		return p.create(ctx, ps, slot, app, listed)
	case store.SlotIdle:
		return p.idle(ctx, ps, slot, app, listed, idle)
	case store.SlotStarting:
		return p.starting(ctx, ps, slot, app, listed)
	case store.SlotBusy:
		if !listed {
			return p.move(ctx, slot, store.SlotUpdate{To: store.SlotError, Error: new("application vanished while busy")})
		}
		return false, nil
	case store.SlotStopping:
		return p.stopping(ctx, ps, slot, app, listed)
	case store.SlotError:
		return p.failed(ctx, ps, slot, app, listed)
	case store.SlotDeleting:
		return p.deleting(ctx, ps, slot, app, listed)
	}
	return false, nil
}

// move applies a conditional update from the slot's current state.
func (p *Pool) move(ctx context.Context, slot store.PoolSlot, u store.SlotUpdate) (bool, error) {
	u.ID, u.From, u.Assigned = slot.ID, slot.State, slot.AssignedDeployment
	ok, err := p.Store.UpdateSlot(ctx, u, p.Clock.Now())
	if ok && u.To != slot.State {
		p.Logger.Info("slot state", zap.String("slot", slot.Name), zap.String("from", string(slot.State)),
			zap.String("to", string(u.To)), zap.Stringp("deployment", slot.AssignedDeployment))
	}
	return ok, err
}

// create makes (or adopts by name) the slot's application, gives it its
// identity (uuid and a fresh slot token, whose hash is stored first), and
// hands it to its bot or the idle pool.
func (p *Pool) create(ctx context.Context, ps *pass, slot store.PoolSlot, app App, listed bool) (bool, error) {
	spec, ok := ps.specs[slot.MeetingPlatform]
	if !ok {
		return false, errors.New("no spec for meeting platform " + slot.MeetingPlatform)
	}
	uuid := app.UUID
	if !listed && slot.AppUUID != nil {
		uuid = *slot.AppUUID // created, not listed yet (eventual consistency)
	}
	if uuid == "" {
		as := spec.AppSpec
		as.Name, as.Description = slot.Name, "Meeboter pool slot "+slot.Name
		var err error
		if uuid, err = p.Apps.Create(ctx, as); err != nil {
			return false, err
		}
		if _, err := p.move(ctx, slot, store.SlotUpdate{To: store.SlotCreating, AppUUID: &uuid}); err != nil {
			return false, err
		}
	}
	token := newSlotToken()
	to := store.SlotIdle
	if slot.AssignedDeployment != nil {
		to = store.SlotStarting
	}
	// The hash is written before the container can learn the token.
	if ok, err := p.move(ctx, slot, store.SlotUpdate{To: store.SlotCreating, AppUUID: &uuid, TokenHash: store.HashSecret(token)}); !ok || err != nil {
		return ok, err // the slot moved (claimed or released meanwhile): the next pass sees it
	}
	if err := p.Apps.SetEnv(ctx, uuid, p.Config.Env(uuid, token)); err != nil {
		return false, err
	}
	return p.move(ctx, slot, store.SlotUpdate{To: to, AppUUID: &uuid, ResetErrors: true, SpecHash: new(spec.Hash())})
}

// idle converges drift and scales down; a container running on an idle slot
// is stopped.
func (p *Pool) idle(ctx context.Context, ps *pass, slot store.PoolSlot, app App, listed bool, idle map[string]int) (bool, error) {
	if !listed {
		return p.move(ctx, slot, store.SlotUpdate{To: store.SlotError, Error: new("idle application vanished")})
	}
	spec := ps.specs[slot.MeetingPlatform]
	floor := p.Config.MinIdle + ps.demand[slot.MeetingPlatform]
	if slot.LastUsedAt != nil && ps.now.Sub(*slot.LastUsedAt) > p.Config.IdleTTL && idle[slot.MeetingPlatform] > floor {
		idle[slot.MeetingPlatform]--
		return p.move(ctx, slot, store.SlotUpdate{To: store.SlotDeleting})
	}
	if spec.Hash() != slot.SpecHash {
		as := spec.AppSpec
		as.Name, as.Description = slot.Name, "Meeboter pool slot "+slot.Name
		if err := p.Apps.Update(ctx, app.UUID, as); err != nil {
			return false, err
		}
		p.Metrics.DriftCorrected(p.Config.Platform, DriftSpec)
		p.Logger.Info("slot spec converged", zap.String("slot", slot.Name), zap.String("spec", spec.Hash()))
		return p.move(ctx, slot, store.SlotUpdate{To: store.SlotIdle, SpecHash: new(spec.Hash())})
	}
	return p.idleContainer(ctx, ps, slot, app, listed)
}

// idleContainer keeps an idle slot's container running while it is wanted
// hot, starts one when more are wanted, and stops the others: a running
// slot not wanted goes STOPPING first, so no claim takes it meanwhile.
func (p *Pool) idleContainer(ctx context.Context, ps *pass, slot store.PoolSlot, app App, listed bool) (bool, error) {
	hot := ps.hot[slot.MeetingPlatform]
	if hot == nil {
		hot = &hotBudget{}
	}
	switch app.State() {
	case "running":
		if hot.keep > 0 {
			hot.keep--
			return false, nil
		}
		return p.move(ctx, slot, store.SlotUpdate{To: store.SlotStopping})
	case "restarting":
		return true, p.Apps.Stop(ctx, app.UUID)
	}
	if hot.start > 0 && ps.inFlight < p.Config.MaxConcurrentStarts {
		hot.start--
		return p.start(ctx, ps, slot, app, listed) // unassigned: it comes back IDLE, running
	}
	return false, nil
}

// starting starts a claimed slot when a start slot is free, and marks it busy
// once its container is seen running. The start request is recorded first:
// a start whose answer is lost may have happened, and starting a running
// container again redeploys it (a restart that ends its bot's meeting), so
// such a start is repeated only once Coolify's deployments show it did not
// happen.
func (p *Pool) starting(ctx context.Context, ps *pass, slot store.PoolSlot, app App, listed bool) (bool, error) {
	switch {
	case slot.StartRequestedAt == nil:
		return p.start(ctx, ps, slot, app, listed)
	case listed && app.State() == "running" && slot.AssignedDeployment == nil:
		return p.started(ctx, ps, slot, store.SlotIdle) // a hot slot, asking for work
	case listed && app.State() == "running":
		return p.started(ctx, ps, slot, store.SlotBusy)
	case ps.now.Sub(*slot.StartRequestedAt) > p.Config.StartTimeout:
		return p.move(ctx, slot, store.SlotUpdate{To: store.SlotError, Error: new("start not seen running within the start timeout")})
	case slot.StartUnknown && listed:
		started, err := p.Apps.StartedSince(ctx, app.UUID, slot.StartRequestedAt.Add(-clockSkew))
		if err != nil {
			return false, err
		}
		if started {
			return p.move(ctx, slot, store.SlotUpdate{To: store.SlotStarting, StartUnknown: new(false)})
		}
		p.Logger.Info("slot start did not happen; starting again", zap.String("slot", slot.Name))
		return p.move(ctx, slot, store.SlotUpdate{To: store.SlotStarting, ClearStartRequested: true})
	}
	return false, nil
}

// started records a finished start; its place under the concurrency cap
// is free for the rest of this pass.
func (p *Pool) started(ctx context.Context, ps *pass, slot store.PoolSlot, to store.SlotState) (bool, error) {
	ok, err := p.move(ctx, slot, store.SlotUpdate{To: to})
	if ok {
		ps.inFlight--
	}
	return ok, err
}

// start records the start request, its outcome unknown, then asks Coolify:
// a crash or a lost answer in between leaves it unknown, for the next pass
// to settle from Coolify's deployments.
func (p *Pool) start(ctx context.Context, ps *pass, slot store.PoolSlot, app App, listed bool) (bool, error) {
	if ps.inFlight >= p.Config.MaxConcurrentStarts || !listed {
		return false, nil
	}
	ps.inFlight++
	u := store.SlotUpdate{To: store.SlotStarting, StartRequested: true, StartUnknown: new(true)}
	if ok, err := p.move(ctx, slot, u); !ok || err != nil {
		return ok, err
	}
	// The outcome is recorded from the state just written: a hot start
	// began IDLE, and a record conditional on IDLE would miss, leaving the
	// start unknown for the next pass to settle with a deployments call.
	slot.State = store.SlotStarting
	err := p.Apps.Start(ctx, app.UUID)
	switch {
	case err == nil:
		u = store.SlotUpdate{To: store.SlotStarting, StartUnknown: new(false)}
	case errors.Is(err, ErrStartUnknown):
		return true, err // settled by a later pass
	default:
		u = store.SlotUpdate{To: store.SlotStarting, ClearStartRequested: true} // refused: nothing happened
	}
	if _, uerr := p.move(ctx, slot, u); uerr != nil {
		return true, uerr
	}
	return true, err
}

// stopping stops a released slot and returns it to the pool once its
// container is seen exited; a stop that does not stop is re-issued.
func (p *Pool) stopping(ctx context.Context, ps *pass, slot store.PoolSlot, app App, listed bool) (bool, error) {
	if !listed {
		return p.move(ctx, slot, store.SlotUpdate{To: store.SlotError, ClearAssignment: true, Error: new("application vanished while stopping")})
	}
	// Exited counts once seen after the stop request (the status lags), or,
	// for a container that was already exited, once the lag has surely passed.
	seenAfter := slot.StopRequestedAt != nil && slot.ObservedAt != nil && !slot.ObservedAt.Before(*slot.StopRequestedAt)
	if slot.StopRequestedAt == nil || ps.now.Sub(*slot.StopRequestedAt) > p.Config.StopTimeout ||
		(seenAfter && app.State() == "running" && ps.now.Sub(*slot.StopRequestedAt) > cmp.Or(p.Config.StopRecheck, 10*time.Second)) {
		if err := p.Apps.Stop(ctx, app.UUID); err != nil {
			return false, err
		}
		if slot.StopRequestedAt != nil { // the first stop is the plan; a second one corrects
			p.Metrics.DriftCorrected(p.Config.Platform, DriftStopReissued)
		}
		return p.move(ctx, slot, store.SlotUpdate{To: store.SlotStopping, StopRequested: true})
	}
	if app.State() == "exited" && (seenAfter || ps.now.Sub(*slot.StopRequestedAt) > p.Config.StopTimeout/4) {
		return p.move(ctx, slot, store.SlotUpdate{To: store.SlotIdle, ClearAssignment: true, ResetErrors: true})
	}
	return false, nil
}

// failed retries an ERROR slot once it is free (stop it, back to IDLE), and
// replaces it after MaxErrors.
func (p *Pool) failed(ctx context.Context, ps *pass, slot store.PoolSlot, app App, listed bool) (bool, error) {
	if slot.AssignedDeployment != nil {
		return false, nil // its bot sees the workload gone and releases it
	}
	if !listed || slot.ErrorCount >= p.Config.MaxErrors {
		ok, err := p.move(ctx, slot, store.SlotUpdate{To: store.SlotDeleting})
		if ok { // counted once: a slot that moved meanwhile is not replaced by this pass
			p.Metrics.DriftCorrected(p.Config.Platform, replaceKind(slot, listed))
		}
		return ok, err
	}
	if app.State() != "exited" {
		return true, p.Apps.Stop(ctx, app.UUID)
	}
	return p.move(ctx, slot, store.SlotUpdate{To: store.SlotIdle})
}

// replaceKind says why an ERROR slot is replaced. Each replaced slot counts
// under one kind: vanished when the application it had is gone (however the
// slot got to ERROR), error_replaced when it kept failing — a slot that
// never got an application only failed to create one.
func replaceKind(slot store.PoolSlot, listed bool) string {
	if !listed && slot.AppUUID != nil {
		return DriftVanished
	}
	return DriftErrorReplaced
}

// deleting deletes the application (asynchronous on Coolify's side) and the
// row once the application is no longer listed.
func (p *Pool) deleting(ctx context.Context, ps *pass, slot store.PoolSlot, app App, listed bool) (bool, error) {
	if !listed {
		// Gone (or never created). Should it still show up later, the orphan
		// collector deletes it: its name is no slot's any more.
		return true, p.Store.DeleteSlot(ctx, slot.ID)
	}
	if slot.StopRequestedAt != nil && ps.now.Sub(*slot.StopRequestedAt) < p.Config.DeleteTimeout {
		return false, nil
	}
	if err := p.Apps.Delete(ctx, app.UUID); err != nil {
		return false, err
	}
	return p.move(ctx, slot, store.SlotUpdate{To: store.SlotDeleting, StopRequested: true})
}

// collectOrphans deletes applications that look like ours (slot name prefix;
// the list is already filtered by our tag) but that no slot knows, once they
// are older than the grace age — only from this complete list.
func (p *Pool) collectOrphans(ctx context.Context, ps *pass, slots []store.PoolSlot, apps []App) (int, error) {
	// An application is known by its recorded uuid, or by its slot's name
	// while the uuid is not recorded yet (a crash right after create). A
	// second application with a slot's name is a duplicate, not the slot's.
	known := map[string]bool{}
	for _, s := range slots {
		if s.AppUUID != nil {
			known[*s.AppUUID] = true
		} else {
			known[s.Name] = true
		}
	}
	n := 0
	for _, a := range apps {
		if known[a.UUID] || known[a.Name] || !strings.HasPrefix(a.Name, "pool-") || a.CreatedAt.IsZero() ||
			ps.now.Sub(a.CreatedAt) < p.Config.OrphanGrace {
			continue
		}
		if err := p.Apps.Delete(ctx, a.UUID); err != nil {
			return n, err
		}
		p.Logger.Info("orphan slot application deleted", zap.String("app", a.Name), zap.String("uuid", a.UUID))
		p.Metrics.OrphanCollected(p.Config.Platform)
		n++
	}
	return n, nil
}
